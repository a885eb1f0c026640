"""The citizen's ticket page (the QR code on every ticket) and the survey tablet by the exit.

Public pages: no sign-in, but every one needs the ticket's token (``/t/<ticket id>?k=<token>``,
:mod:`antre.central.ticketkey`, checked in constant time; a wrong one is a 404 and a log line)
or, for the tablet, its own dated link; every address is rate-limited (requests per minute,
wrong tokens per 10 minutes, open live streams).

The page shows the number, the service, how many wait ahead and the estimated wait, and when
the ticket is called the gerai; it follows the queue live over server-sent events (the same
change notifications as the console's other pages: no polling) and, with a few lines of
vendored-free JavaScript (``static/ticket.js``), rings and vibrates when at most
``[console] ticket_notice_ahead`` citizens wait ahead ("Hampir giliran Anda") and when called.
Once served, it shows the SKM form (:mod:`antre.central.skm`); the answer goes to the central
as a ``survey_answer`` command under the console's identity (the central checks the token
again, the window, and one answer per ticket) and the page thanks the citizen.

Everything the page shows comes from the central's event log, read-only (the console's
:class:`~antre.console.history.LogFigures` engine and a :class:`~antre.central.feedback.FeedbackBook`
of the tickets served within the survey window).  Nothing personal is asked or shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from antre.broker.wire import messages as m
from antre.central import events as ev
from antre.central import skm
from antre.central.engine import Engine, Status
from antre.central.feedback import FeedbackBook
from antre.central.ticketkey import TicketKey, kiosk_url, well_formed
from antre.console import forms
from antre.console.forms import FormError
from antre.console.link import NoReply

log = logging.getLogger(__name__)

_TICKET_ID = re.compile(r"^[0-9]{8}-[A-Z]{1,2}[0-9]{1,6}$")
_NUMBER = re.compile(r"^([A-Za-z]{1,2})[ -]?([0-9]{1,6})$")
_NONCE = re.compile(r"^[0-9a-f]{16}$")
#: SSE: a comment line this often keeps the phone's connection (and proxies) awake
PING_S = 15
#: a phone's page opens its stream again after this long when it was dropped (ms, the SSE retry field)
RETRY_MS = 3000
#: after a tablet's "thank you", back to the entry screen after this many seconds
KIOSK_RESET_S = 8
STAGE_TITLES = {
    "waiting": "Menunggu", "almost": "Hampir giliran Anda", "called": "Giliran Anda", "survey": "Sudah dilayani",
    "answered": "Terima kasih", "done": "Sudah dilayani", "no_show": "Nomor terlewat", "unprinted": "Menunggu",
    "gone": "Tidak berlaku",
}
#: stages after which nothing more can happen to the ticket: its stream ends
FINAL_STAGES = frozenset({"answered", "done", "gone"})


@dataclass(frozen=True)
class TicketView:
    """What a ticket's page shows now (plain data; equal views render equal pages)."""

    ticket_id: str
    stage: str  #: waiting | almost | called | survey | answered | done | no_show | unprinted | gone
    number: str
    service_name: str = ""
    agency_name: str = ""
    ahead: int | None = None
    est_wait_min: int | None = None
    gerai_name: str = ""
    gerai_number: int | None = None
    recalls: int = 0
    transferred: bool = False
    priority: bool = False

    @property
    def key(self) -> str:
        """Short digest of the view: the page replaces its content only when it changed."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def title(self) -> str:
        return STAGE_TITLES.get(self.stage, "")


def ticket_view(engine: Engine, book: FeedbackBook, ticket_id: str, now: float, notice_ahead: int) -> TicketView | None:
    """The view of ``ticket_id`` from the log's engine (today's tickets) and the book (served
    ones within the survey window); None for a ticket neither knows."""
    config = engine.config
    ticket = engine.tickets.get(ticket_id)
    served = book.served.get(ticket_id)
    number = ticket_id.rpartition("-")[2]

    def names(service: str) -> tuple[str, str]:
        svc = config.services.get(service)
        if svc is None:
            return "", ""
        agency = config.agencies.get(svc.agency)
        return svc.name, agency.short if agency else ""

    if ticket is not None and ticket.status is not Status.SERVED:
        service_name, agency_name = names(ticket.service)
        common: dict[str, Any] = dict(ticket_id=ticket_id, number=ticket.number, service_name=service_name,
                                      agency_name=agency_name, transferred=ticket.transfers > 0,
                                      priority=ticket.is_priority)
        if ticket.status is Status.WAITING:
            ahead = engine.ahead_of(ticket)
            return TicketView(stage="almost" if ahead <= notice_ahead else "waiting", ahead=ahead,
                              est_wait_min=engine.estimate_wait_minutes(ticket.service, ahead), **common)
        if ticket.status is Status.CALLED and ticket.gerai in config.gerai:
            g = config.gerai[ticket.gerai]
            return TicketView(stage="called", gerai_name=g.name, gerai_number=g.number, recalls=ticket.recalls,
                              **common)
        if ticket.status is Status.NO_SHOW:
            return TicketView(stage="no_show", **common)
        if ticket.status is Status.UNPRINTED:
            return TicketView(stage="unprinted", **common)
        return TicketView(stage="gone", **common)
    if served is None:
        return None
    service_name, agency_name = names(served.service)
    where = config.gerai.get(served.gerai)
    if ticket_id in book.answered:
        stage = "answered"
    elif now - served.served_at <= book.window_s:
        stage = "survey"
    else:
        stage = "done"
    return TicketView(ticket_id=ticket_id, stage=stage, number=served.number or number, service_name=service_name,
                      agency_name=agency_name, gerai_name=where.name if where else "",
                      gerai_number=where.number if where else None)


@dataclass
class PublicGate:
    """Per-address limits of the public pages (see the module docstring); memory stays bounded."""

    per_minute: int
    bad_tokens: int
    streams_total: int
    streams_per_address: int
    requests: dict[str, deque[float]] = field(default_factory=dict)
    bad: dict[str, deque[float]] = field(default_factory=dict)
    streams: dict[str, int] = field(default_factory=dict)

    BAD_WINDOW_S = 600.0

    def allow(self, addr: str, now: float) -> bool:
        """Count a request from ``addr``; False when it is over its limits."""
        bad = self.bad.get(addr)
        if bad is not None:
            while bad and now - bad[0] > self.BAD_WINDOW_S:
                bad.popleft()
            if len(bad) >= self.bad_tokens:
                return False
        q = self.requests.setdefault(addr, deque(maxlen=self.per_minute + 1))
        while q and now - q[0] > 60.0:
            q.popleft()
        q.append(now)
        if len(self.requests) > 20000:
            self.requests = {a: v for a, v in self.requests.items() if v and now - v[-1] <= 60.0}
        return len(q) <= self.per_minute

    def wrong_token(self, addr: str, now: float) -> None:
        self.bad.setdefault(addr, deque(maxlen=self.bad_tokens + 1)).append(now)
        if len(self.bad) > 20000:
            self.bad = {a: v for a, v in self.bad.items() if v and now - v[-1] <= self.BAD_WINDOW_S}

    def open_stream(self, addr: str) -> bool:
        if sum(self.streams.values()) >= self.streams_total or self.streams.get(addr, 0) >= self.streams_per_address:
            return False
        self.streams[addr] = self.streams.get(addr, 0) + 1
        return True

    def close_stream(self, addr: str) -> None:
        left = self.streams.get(addr, 0) - 1
        if left > 0:
            self.streams[addr] = left
        else:
            self.streams.pop(addr, None)


class TicketDesk:
    """What the public pages share: the key, the book of served tickets, the limits."""

    def __init__(self, console: Any) -> None:
        from antre.central.main import ticket_key

        self.console = console
        config = console.config
        self.config = config
        self.key: TicketKey | None = ticket_key(config, console.credentials_path)
        self.book = FeedbackBook(config.survey.answer_window_hours * 3600)
        self.lock = threading.RLock()
        c = config.console
        self.gate = PublicGate(c.public_requests_per_minute, c.public_bad_tokens, c.public_streams,
                               c.public_streams_per_address)
        figures = console.log_figures
        if figures is not None:
            self._seed(figures)

    def _seed(self, figures: Any) -> None:
        """The served tickets of the days the window reaches (the log figures hold only today), then
        every event the figures apply from now on."""
        with figures.lock:
            store = figures.store
            today = figures.engine.day or dt.datetime.fromtimestamp(time.time(), self.config.zone).date()
            first = self.book.first_day(today).isoformat()
            spans = [s for s in store.day_spans() if s.day >= first]
            if spans:
                for seq, event in store.events(spans[0].first_seq):
                    if seq > figures.seq:
                        break
                    self.book.apply(event)
            figures.listeners.append(self._applied)

    def _applied(self, event: ev.AnyEvent) -> None:
        with self.lock:
            self.book.apply(event)

    def view(self, ticket_id: str) -> TicketView | None:
        figures = self.console.log_figures
        if figures is None:
            return None
        with figures.lock, self.lock:
            return ticket_view(figures.engine, self.book, ticket_id, self.console.now(),
                               self.config.console.ticket_notice_ahead)

    def answered(self, ticket_id: str) -> None:
        """The central recorded an answer for ``ticket_id``: show the thanks at once (the log says so
        too, at the figures' next read)."""
        with self.lock:
            self.book.answered.add(ticket_id)
        self.console.changes.bump(frozenset({"ticket"}))

    def find_today(self, number: str) -> str | None:
        """Today's ticket id of a printed number (the survey tablet)."""
        figures = self.console.log_figures
        if figures is None:
            return None
        with figures.lock:
            ticket = figures.engine.find(number)
            return ticket.id if ticket is not None else None


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "?"


def routes(console: Any) -> list[BaseRoute]:
    """The public routes of the ticket page and the survey tablet, for :func:`antre.console.web.build_app`."""
    desk = TicketDesk(console)
    console.ticket_desk = desk
    config = console.config

    def html(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = console.render(name, site=config, skm=skm, **context)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def message(title: str, text: str, status: int, **extra: Any) -> HTMLResponse:
        return html("ticket_message.html", status=status, title=title, text=text, **extra)

    def limited(request: Request) -> Response | None:
        if desk.gate.allow(client_addr(request), time.monotonic()):
            return None
        log.warning("public page: too many requests from %s (%s)", client_addr(request), request.url.path)
        return message("Terlalu banyak permintaan", "Tunggu sebentar, lalu muat ulang halaman ini.", 429)

    def not_found(request: Request, why: str, guess: bool = True) -> Response:
        if guess:  # (a site without a key is the technicians' to fix, not the visitor's fault)
            desk.gate.wrong_token(client_addr(request), time.monotonic())
        log.warning("public page: %s from %s: %s", request.url.path[:80], client_addr(request), why)
        return message("Halaman tidak ditemukan", "Periksa kembali kode QR pada tiket Anda.", 404)

    def ticket_of(request: Request, token: str) -> str | Response:
        """The ticket id of a public request whose token checks, or the refusal."""
        tid = request.path_params.get("ticket", "")
        if not _TICKET_ID.match(tid):
            return not_found(request, "not a ticket id")
        if desk.key is None:
            return not_found(request, "no ticket-page key in the credentials file", guess=False)
        if not well_formed(token) or not desk.key.check(tid, token):
            return not_found(request, f"wrong token for {tid}")
        return str(tid)

    def state_html(view: TicketView, token: str, kiosk: dict[str, str] | None = None, error: str = "",
                   chosen: dict[str, str] | None = None) -> str:
        body: str = console.render("_ticket_state.html", v=view, token=token, skm=skm, kiosk=kiosk, error=error,
                                   chosen=chosen or {}, nonce=secrets.token_hex(8))
        return body

    def page(view: TicketView, token: str, **extra: Any) -> HTMLResponse:
        return html("ticket.html", v=view, token=token, state=state_html(view, token, **extra),
                    live=f"/t/{view.ticket_id}/live?k={token}" if view.stage not in FINAL_STAGES else "")

    async def ticket_page(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        token = request.path_params.get("token") or request.query_params.get("k", "")
        tid = ticket_of(request, token[:64])
        if isinstance(tid, Response):
            return tid
        view = desk.view(tid)
        if view is None:
            return message("Nomor tidak berlaku", "Nomor antrean ini sudah tidak berlaku (hari layanan sudah "
                           "berakhir).", 410)
        return page(view, token)

    async def ticket_live(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        token = request.query_params.get("k", "")[:64]
        tid = ticket_of(request, token)
        if isinstance(tid, Response):
            return tid
        addr = client_addr(request)
        if not desk.gate.open_stream(addr):
            log.warning("public page: too many live pages open (%s)", addr)
            return Response("too many live pages", status_code=429)

        async def events() -> AsyncIterator[dict[str, Any]]:
            last = ""
            seen = -1
            try:
                while True:
                    await console.changes.wait("ticket", seen, PING_S)
                    seen = console.changes.version("ticket")
                    view = desk.view(tid)
                    if view is None:
                        yield {"event": "end", "data": "gone"}
                        return
                    if view.key != last:
                        last = view.key
                        yield {"event": "ticket", "data": state_html(view, token), "retry": RETRY_MS}
                    if view.stage in FINAL_STAGES:
                        yield {"event": "end", "data": view.stage}
                        return
            finally:
                desk.gate.close_stream(addr)

        return EventSourceResponse(events(), ping=PING_S, headers={"Cache-Control": "no-store"})

    async def survey_post(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        try:
            fields = await forms.read_form(request)
        except FormError as exc:
            return message("Formulir tidak dapat diproses", exc.text, exc.status)
        kiosk = _kiosk_fields(fields)
        tid = request.path_params.get("ticket", "")
        if kiosk is not None:  # the tablet: its own link authorises it, the token is the page's own
            if not _kiosk_ok(desk, kiosk, console.now()) or not _TICKET_ID.match(tid) or desk.key is None:
                return not_found(request, "wrong survey tablet link")
            token = desk.key.token(tid)
        else:
            token = fields.get("k", "")[:64]
            checked = ticket_of(request, token)
            if isinstance(checked, Response):
                return checked
        view = desk.view(tid)
        if view is None:
            return message("Nomor tidak berlaku", "Nomor antrean ini sudah tidak berlaku.", 410)
        if view.stage != "survey":
            return respond(view, token, kiosk)
        try:
            command = _survey_command(fields, tid, token, kiosk is not None)
        except FormError as exc:
            chosen = {k: v for k, v in fields.items() if k in _CHOSEN}
            return respond(view, token, kiosk, exc.text, chosen, 400)
        if console.link is None:
            return respond(view, token, kiosk, "Konsol tidak terhubung ke server antrean. Coba lagi nanti.",
                           {k: v for k, v in fields.items() if k in _CHOSEN}, 503)
        try:
            reply = await console.link.request(command)
        except NoReply:
            log.warning("no reply from the central to the survey answer of %s", tid)
            return respond(view, token, kiosk, "Server antrean tidak menjawab. Tekan Kirim sekali lagi.",
                           {k: v for k, v in fields.items() if k in _CHOSEN}, 503)
        log.info("survey answer for %s (%s): %s %s", tid, command.channel, reply.code, reply.text_en)
        if reply.ok or reply.code == m.ResultCode.ALREADY_ANSWERED:
            desk.answered(tid)
            view = desk.view(tid) or view
            return respond(view, token, kiosk)
        return respond(view, token, kiosk, reply.text_id or reply.code,
                       {k: v for k, v in fields.items() if k in _CHOSEN}, 409)

    def respond(view: TicketView, token: str, kiosk: dict[str, str] | None, error: str = "",
                chosen: dict[str, str] | None = None, status: int = 200) -> Response:
        if kiosk is not None:
            return html("ticket_kiosk.html", status=status, kiosk=kiosk, v=view,
                        state=state_html(view, token, kiosk, error, chosen),
                        reset=KIOSK_RESET_S if view.stage in FINAL_STAGES else 0,
                        home=_kiosk_home(kiosk))
        response = page(view, token, error=error, chosen=chosen)
        response.status_code = status
        return response

    async def kiosk_page(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        kiosk = {"until": request.query_params.get("until", "")[:10], "kk": request.query_params.get("k", "")[:64]}
        if not _kiosk_ok(desk, kiosk, console.now()):
            return not_found(request, "wrong or expired survey tablet link")
        return html("ticket_kiosk.html", kiosk=kiosk, v=None, state="", reset=0, home=_kiosk_home(kiosk))

    async def kiosk_find(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        try:
            fields = await forms.read_form(request)
        except FormError as exc:
            return message("Formulir tidak dapat diproses", exc.text, exc.status)
        kiosk = _kiosk_fields(fields)
        if kiosk is None or not _kiosk_ok(desk, kiosk, console.now()) or desk.key is None:
            return not_found(request, "wrong or expired survey tablet link")
        tid = _ticket_from_input(fields.get("ticket", ""), desk)
        view = desk.view(tid) if tid else None

        def again(text: str, status: int) -> Response:
            return html("ticket_kiosk.html", status=status, kiosk=kiosk, v=None, state="", reset=0, error=text,
                        home=_kiosk_home(kiosk))

        if view is None:
            return again("Nomor antrean tidak ditemukan hari ini. Periksa nomor pada tiket Anda.", 404)
        if view.stage in ("waiting", "almost", "called", "unprinted", "no_show"):
            return again(f"Nomor {view.number} belum selesai dilayani. Survei dapat diisi setelah dilayani.", 409)
        return respond(view, desk.key.token(view.ticket_id), kiosk)

    return [
        Route("/t/kiosk", kiosk_page, methods=["GET"]),
        Route("/t/kiosk", kiosk_find, methods=["POST"]),
        Route("/t/{ticket}/live", ticket_live, methods=["GET"]),
        Route("/t/{ticket}/survey", survey_post, methods=["POST"]),
        Route("/t/{ticket}/{token}", ticket_page, methods=["GET"]),
        Route("/t/{ticket}", ticket_page, methods=["GET"]),
    ]


#: the form fields kept when a form is shown again after a refusal
_CHOSEN = frozenset({*(f"u{i}" for i in range(1, 10)), "age", "sex", "education", "occupation", "saran"})


def _kiosk_fields(fields: dict[str, str]) -> dict[str, str] | None:
    if "kk" not in fields:
        return None
    return {"until": fields.get("until", "")[:10], "kk": fields.get("kk", "")[:64]}


def _kiosk_ok(desk: TicketDesk, kiosk: dict[str, str], now: float) -> bool:
    if desk.key is None or not well_formed(kiosk.get("kk", "")):
        return False
    try:
        until = dt.date.fromisoformat(kiosk.get("until", ""))
    except ValueError:
        return False
    today = dt.datetime.fromtimestamp(now, desk.config.zone).date()
    return desk.key.check_kiosk(until, kiosk["kk"], today)


def _kiosk_home(kiosk: dict[str, str]) -> str:
    return f"/t/kiosk?until={kiosk['until']}&k={kiosk['kk']}"


def kiosk_link(desk: TicketDesk, now: float) -> tuple[str, dt.date] | None:
    """A survey tablet's link valid for ``[survey] kiosk_link_days`` from today (None without a key or URL)."""
    config = desk.config
    if desk.key is None:
        return None
    until = dt.datetime.fromtimestamp(now, config.zone).date() + dt.timedelta(days=config.survey.kiosk_link_days)
    base = config.console.public_url or ""
    return kiosk_url(base, until, desk.key.kiosk_token(until)), until


def _ticket_from_input(text: str, desk: TicketDesk) -> str | None:
    """A ticket id from what the tablet's field got: a number typed (``A012``, ``a-12``), a ticket id,
    or a whole ticket link read by a barcode scanner that types like a keyboard."""
    value = text.strip()[:300]
    if "/t/" in value:
        value = urlsplit(value).path.rsplit("/t/", 1)[-1].split("/", 1)[0]
    if _TICKET_ID.match(value):
        return value
    match = _NUMBER.match(value)
    if match is None:
        return None
    prefix, digits = match.group(1).upper(), match.group(2)
    service = desk.config.service_by_prefix(prefix)
    if service is None:
        return None
    number = f"{prefix}{int(digits):0{service.padding}d}"
    return desk.find_today(number)


def _survey_command(fields: dict[str, str], ticket_id: str, token: str, kiosk: bool) -> m.SurveyAnswer:
    """The ``survey_answer`` of a posted form, or :class:`FormError` naming what is missing."""
    scores: list[int] = []
    missing = []
    for i, element in enumerate(skm.ELEMENTS, start=1):
        value = fields.get(f"u{i}", "")
        if value not in ("1", "2", "3", "4"):
            missing.append(element.code)
            continue
        scores.append(int(value))
    if missing:
        raise FormError("Mohon jawab semua pertanyaan (" + ", ".join(missing) + " belum dijawab).")
    profile: dict[str, Any] = {}
    for name, (label, options) in skm.PROFILE_FIELDS.items():
        value = fields.get(name, "")
        if value and value not in options:
            raise FormError(f"{label}: pilihan tidak dikenal")
        profile[name] = value or None
    suggestion = forms.text(fields, "saran", "Saran dan masukan", max_len=400)
    nonce = fields.get("nonce", "")
    if not _NONCE.match(nonce):
        raise FormError("Formulir kedaluwarsa: muat ulang halaman.")
    return m.SurveyAnswer(id=f"s-{nonce}", ts=None, ticket_id=ticket_id, token=token, scores=scores,
                          profile=m.SurveyProfile(**profile), suggestion=suggestion,
                          channel="kiosk" if kiosk else "phone")


__all__ = ["PublicGate", "TicketDesk", "TicketView", "kiosk_link", "routes", "ticket_view"]
