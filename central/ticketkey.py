"""The unguessable token of a ticket's page, and the link a survey tablet opens.

The QR code printed on a ticket opens ``<public_url>/t/<ticket id>?k=<token>`` on the
operations console.  The token is HMAC-SHA256 of the site and the ticket id under the site's
ticket-page key (kept in the site's credentials file, ``[keys] ticket-page``, which the central
and the console both read; see :mod:`antre.broker.admin.credentials`), truncated to 120 bits
and written in URL-safe base64 (20 characters).  Knowing a ticket number (printed in large
digits, called aloud) gives no way to its page: the token is needed, and every check is
constant-time.

A survey tablet by the exit (the ticket page's kiosk mode) is authorised by a link of its own,
valid until a date: HMAC of the site and that date under the same key, in another domain, so a
tablet link is never a ticket token nor the reverse.

Pure: no MQTT, no web.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from urllib.parse import quote

#: bytes of the HMAC kept in a token: 120 bits, 20 base64url characters
TOKEN_BYTES = 15
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{20}$"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_TICKET_DOMAIN = b"antre ticket page v1\x00"
_KIOSK_DOMAIN = b"antre survey kiosk v1\x00"
#: the name of the key in the credentials file's ``[keys]`` table
KEY_NAME = "ticket-page"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class TicketKey:
    """Tokens of one site's ticket pages and survey-tablet links (see the module docstring)."""

    def __init__(self, secret: str, site: str) -> None:
        if len(secret) < 32:
            raise ValueError("a ticket-page key needs at least 32 characters")
        self._key = hashlib.sha256(b"antre ticket-page key\x00" + secret.encode("utf-8")).digest()
        self.site = site

    def _mac(self, domain: bytes, text: str) -> str:
        message = domain + self.site.encode("ascii") + b"\x00" + text.encode("utf-8")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:TOKEN_BYTES])

    def token(self, ticket_id: str) -> str:
        """The token of ``ticket_id``'s page."""
        return self._mac(_TICKET_DOMAIN, ticket_id)

    def check(self, ticket_id: str, token: str) -> bool:
        """Is ``token`` the token of ``ticket_id``?  Constant-time in the token's content."""
        return _same(self.token(ticket_id), token)

    def kiosk_token(self, until: dt.date) -> str:
        """The token of a survey tablet's link valid through ``until``."""
        return self._mac(_KIOSK_DOMAIN, until.isoformat())

    def check_kiosk(self, until: dt.date, token: str, today: dt.date) -> bool:
        """Is ``token`` a tablet link's token for ``until``, and ``until`` not passed?"""
        return _same(self.kiosk_token(until), token) and today <= until


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def well_formed(token: str) -> bool:
    """Does ``token`` look like a token at all (before any check)?"""
    return bool(_TOKEN_RE.match(token))


def ticket_url(public_url: str, ticket_id: str, token: str) -> str:
    """The address of a ticket's page: ``<public_url>/t/<ticket id>?k=<token>``."""
    return f"{public_url.rstrip('/')}/t/{quote(ticket_id, safe='')}?k={token}"


def kiosk_url(public_url: str, until: dt.date, token: str) -> str:
    """The address a survey tablet opens (the ticket page's kiosk mode)."""
    return f"{public_url.rstrip('/')}/t/kiosk?until={until.isoformat()}&k={token}"
