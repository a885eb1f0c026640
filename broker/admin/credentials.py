"""Per-device credentials: generated secrets and their password hashes.

A site's credentials live in one TOML file (mode 0600) that only the central
server's administrator reads; it is the "provisioning output" a technician
uses to configure each device.  Secrets are generated with :mod:`secrets`,
never hard-coded and never logged.  Hashes use PBKDF2-SHA512 in Mosquitto's
``$7$`` format, which both Mosquitto and antre's embedded broker verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role
from antre.broker.errors import ConfigurationError

PBKDF2_ITERATIONS = 101  # Mosquitto 2.0's mosquitto_passwd default
_SALT_BYTES = 12


class CredentialsError(ConfigurationError, ValueError, what="credentials"):
    """A missing or malformed credentials file."""


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``$7$<iterations>$<salt b64>$<sha512 pbkdf2 b64>``, as ``mosquitto_passwd`` writes."""
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, kind, iterations, salt_b64, digest_b64 = hashed.split("$")
        if kind != "7":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(iterations), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: the site keys every site has (``[keys]``): ``ticket-page`` signs the links of the tickets' QR codes
#: (read by the central and the console; see antre.central.ticketkey)
SITE_KEYS = ("ticket-page",)


@dataclass(frozen=True)
class Credentials:
    """username -> secret for every identity of a site, and the site's own keys (``[keys]``:
    name -> secret, e.g. ``ticket-page``), which are no broker password."""

    site: str
    secrets: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)

    def resolve(self, who: Identity) -> Identity:
        """The identity as the broker knows it: for "the site's central" (no tag), the central's
        own secret username from this file."""
        if who.role is Role.CENTRAL and who.device is None:
            centrals = sorted((Identity.parse(u) for u in self.secrets if u.startswith("central")),
                              key=lambda i: i.device is None)
            if centrals:
                return centrals[0]
        return who

    def username(self, who: Identity) -> str:
        return self.resolve(who).username

    def password(self, who: Identity | str) -> str:
        username = who if isinstance(who, str) else self.username(who)
        try:
            return self.secrets[username]
        except KeyError:
            raise CredentialsError(f"no credentials for {username!r}; regenerate the site's credentials") from None

    def password_file(self) -> str:
        """Mosquitto ``password_file`` text (hashes only)."""
        return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in sorted(self.secrets.items()))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            "# antre device credentials: SECRET. Readable by the administrator only (mode 0600).",
            "# Give each device its own line (antre edge provision); never send this file whole.",
            f'site = "{self.site}"',
            "",
            "[secrets]",
        ] + [f'"{user}" = "{pw}"' for user, pw in sorted(self.secrets.items())]
        if self.keys:
            lines += ["", "[keys]"] + [f'"{name}" = "{key}"' for name, key in sorted(self.keys.items())]
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def load(path: str | Path) -> Credentials:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsError(f"{path}: credentials file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CredentialsError(f"{path}: unreadable credentials file: {exc}") from None
    site, table, keys = raw.get("site"), raw.get("secrets"), raw.get("keys", {})
    if not isinstance(site, str) or not isinstance(table, dict):
        raise CredentialsError(f"{path}: expected 'site' and a [secrets] table")
    if not isinstance(keys, dict):
        raise CredentialsError(f"{path}: keys: must be a table")
    for name, key in keys.items():
        if not isinstance(key, str) or len(key) < 32:
            raise CredentialsError(f"{path}: keys.{name}: must be a string of at least 32 characters")
    for user, pw in table.items():
        if not isinstance(pw, str) or len(pw) < 16:
            raise CredentialsError(f"{path}: secrets.{user}: must be a string of at least 16 characters")
        try:
            Identity.parse(user)
        except ValueError as exc:
            raise CredentialsError(f"{path}: secrets.{user}: {exc}") from None
    return Credentials(site, dict(table), dict(keys))


def ensure(path: str | Path, site: str, identities: list[Identity]) -> Credentials:
    """Load the credentials at ``path``, adding a new secret for every identity
    that has none (existing devices keep theirs) and every missing site key; create the file if needed."""
    path = Path(path)
    if path.exists():
        creds = load(path)
        if creds.site != site:
            raise CredentialsError(f"{path}: credentials of site {creds.site!r}, not {site!r}")
    else:
        creds = Credentials(site, {})
    secrets_ = dict(creds.secrets)
    keys = dict(creds.keys)
    changed = not path.exists()
    for name in SITE_KEYS:
        if name not in keys:
            keys[name] = secrets.token_urlsafe(32)
            changed = True
    for who in identities:
        if who.role is Role.CENTRAL and who.device is None:
            if not any(u.startswith("central-") for u in secrets_):
                # a secret username for the central (see antre.broker.admin.acl); an older file's
                # plain "central" is replaced: regenerate the broker's password file after this
                secrets_.pop("central", None)
                secrets_[f"central-{secrets.token_hex(8)}"] = new_secret()
                changed = True
        elif who.username not in secrets_:
            secrets_[who.username] = new_secret()
            changed = True
    creds = Credentials(site, secrets_, keys)
    if changed:
        creds.save(path)
    return creds
