"""The console's web application (Starlette, Jinja2 templates, htmx, server-sent events).

Pages are rendered on the server; htmx (vendored in ``static/vendor``) posts the forms and swaps
the fragments the server pushes over SSE (``/sse/<page>``): no polling in the browser.  Every page
needs a signed-in account whose role allows it; every form carries the session's CSRF token; every
action becomes one ``console_cmd`` to the central under the console's identity, naming the user.

:class:`Console` holds what the pages share: the site, the accounts, the live model, the MQTT
link, the event-log reader; :func:`build_app` makes the ASGI application around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role as DeviceRole
from antre.central.config import SiteConfig
from antre.daemon import Progress
from antre.central.texts import format_date_id
from antre.console import bundles, forms, reports, survey, ticket
from antre.console.accounts import Accounts, Role, User
from antre.console.forms import FormError
from antre.console.history import LogFigures
from antre.console.link import ConsoleLink, NoReply
from antre.console.live import ALL_PAGES, QUEUE_PAGES, LiveSite, printer_name
from antre.console.signin import HashSlots, Refusal, SignInGate, Verdict

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "antre_console"
#: SSE: at most one push per client this often (seconds), however fast the site changes
PUSH_MIN_INTERVAL = 0.02
#: SSE: a comment line this often keeps proxies and the browser's connection awake
SSE_PING_S = 15
TICK_S = 1.0
#: live pages (SSE streams) open at once: per signed-in session, per account, for all staff together
#: (the citizens' ticket pages have their own limits, ``[console] public_streams``)
SSE_PER_SESSION = 8
SSE_PER_USER = 24
SSE_TOTAL = 400
#: the console republishes its retained presence this often: a second console started with the same
#: id sees it renewed and refuses to start (:func:`antre.console.main.check_console_id`)
PRESENCE_RENEW_S = 10
#: the journal and alarm history are pruned this often (seconds)
PRUNE_EVERY_S = 3600
#: a broker connection shorter than this, lost while the broker is up (the console is connected again within
#: :data:`TAKEOVER_GAP_S`: the broker gave its client id to another connection, not went down) ...
TAKEOVER_SHORT_S = 10.0
TAKEOVER_GAP_S = 2.5
#: ... this many times within :data:`TAKEOVER_WINDOW_S` (more for a console that has served a while, so of
#: two consoles started with one id the newer one gives up first) stop the console
TAKEOVER_COUNT_NEW, TAKEOVER_COUNT_OLD = 3, 6
TAKEOVER_WINDOW_S = 120.0
#: the access journal's page
JOURNAL_PAGE = 100
#: the access journal's kinds of rows, as an admin reads them (the code stays beside them)
JOURNAL_NAMES = {"login": "masuk", "login_failed": "gagal masuk: kata sandi salah",
                 "login_blocked": "masuk ditolak: terlalu banyak percobaan gagal",
                 "login_busy": "masuk ditolak: konsol sedang sibuk", "logout": "keluar",
                 "refused": "ditolak: bukan haknya", "bundle": "mengunduh bundel perangkat",
                 "stream_refused": "halaman langsung ditolak: terlalu banyak dibuka", "report": "mengunduh laporan"}

ROLE_NAMES = {Role.ADMIN: "Admin", Role.SUPERVISOR: "Supervisor", Role.TECHNICIAN: "Teknisi",
              Role.STAFF: "Petugas gerai"}
PRIORITY_NAMES = {"elderly": "lansia", "disabled": "penyandang disabilitas", "pregnant": "ibu hamil",
                  "child": "anak"}
STATUS_NAMES = {"idle": "siap", "serving": "melayani", "paused": "istirahat", "closed": "tutup",
                "unknown": "belum ada data"}
SITE_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.TECHNICIAN})
DAY_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
FLEET_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.TECHNICIAN})
#: a device's provisioning bundle holds its secret: technicians (who install the Pi) and admins only
BUNDLE_ROLES = frozenset({Role.ADMIN, Role.TECHNICIAN})
COUNTER_ACTIONS = ("call_next", "recall", "no_show", "done", "transfer", "call_ticket", "pause", "resume", "reprint")
DAY_ACTIONS = ("stop_issuing", "resume_issuing", "set_quota", "lobby_message")


def command_id(user: str, nonce: str, action: str) -> str:
    """The id of a console action: the rendered form's ``nonce`` and the action.  The same form sent
    twice (a double click, a browser's resend) has the same id, so the central applies it once; another
    action from the same page before it was redrawn has its own (it is never taken for the first)."""
    code = (COUNTER_ACTIONS + DAY_ACTIONS).index(action)
    return f"c-{user}-{nonce}-{code:02d}"
_NONCE = re.compile(r"^[0-9a-f]{16}$")


class Changes:
    """A version number per page that the SSE streams wait on (bumped on the loop's thread): a
    stream renders again only when something of its own page changed."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = dict.fromkeys(ALL_PAGES, 0)
        self._event = asyncio.Event()

    def version(self, page: str) -> int:
        return self.versions.get(page, 0)

    def bump(self, pages: frozenset[str] = ALL_PAGES) -> None:
        if not pages:
            return
        for page in pages:
            self.versions[page] = self.versions.get(page, 0) + 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, page: str, seen: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.version(page) == seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), left)


@dataclass
class StreamCount:
    """The live pages (SSE streams) open now, per session and per account (see :data:`SSE_TOTAL`)."""

    per_session: dict[str, int] = field(default_factory=dict)
    per_user: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def open(self, session: str, user: str) -> bool:
        if (self.total >= SSE_TOTAL or self.per_user.get(user, 0) >= SSE_PER_USER
                or self.per_session.get(session, 0) >= SSE_PER_SESSION):
            return False
        self.per_session[session] = self.per_session.get(session, 0) + 1
        self.per_user[user] = self.per_user.get(user, 0) + 1
        self.total += 1
        return True

    def close(self, session: str, user: str) -> None:
        for counts, key in ((self.per_session, session), (self.per_user, user)):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)
        self.total = max(0, self.total - 1)


class Console:
    """What every page shares (see the module docstring)."""

    def __init__(self, config: SiteConfig, accounts: Accounts, link: ConsoleLink | None,
                 figures: LogFigures | None, *, tls: bool = False, credentials_path: str | None = None) -> None:
        self.config = config
        #: the site's credentials file (``--credentials``, else ``broker.credentials``): device bundles
        self.credentials_path = credentials_path
        self.accounts = accounts
        self.live = LiveSite(config)
        self.link = link
        self.log_figures = figures
        self.tls = tls
        self.changes = Changes()
        self.gate = SignInGate(config.console.login_attempts, config.console.login_window_s)
        self.hash_slots = HashSlots()
        self.streams = StreamCount()
        #: set when the server stops: live pages end their streams (a clean end, no cancelled task)
        self.closing = asyncio.Event()
        #: why the console must stop (another console took its broker identity); None while all is well
        self.fatal: str | None = None
        #: called (on the loop) when :attr:`fatal` is set: the server stops
        self.on_fatal: Callable[[str], None] | None = None
        self._takeovers: deque[float] = deque(maxlen=16)  #: when the link came back after a short session
        self._connected_at: float | None = None
        self._lost: tuple[float, float] | None = None  #: (when, after how long) the link last went down
        self._refreshing = False
        #: fragment -> (version, html): every browser on a page shares one rendering per change
        self._cache: dict[str, tuple[int, str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.started = time.monotonic()
        #: touched by the ticker every second: the systemd watchdog pings while it moves
        self.progress = Progress()
        #: called once the server listens (READY=1 under systemd; :func:`antre.console.main.console_server`)
        self.on_ready: Callable[[], None] | None = None
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(site=config, role_names=ROLE_NAMES, status_names=STATUS_NAMES,
                                priority_names=PRIORITY_NAMES,
                                fmt_age=fmt_age, fmt_clock=self.fmt_clock, fmt_date=self.fmt_date, Role=Role)

    # ------------------------------------------------------------------ time and lifecycle

    def now(self) -> float:
        """The central's clock as the console's link estimates it."""
        return self.link.clock.now() if self.link is not None else time.time()

    def fmt_date(self, ts: float | None) -> str:
        """``23/11`` (day/month) in the site's zone."""
        if not ts:
            return "-"
        return dt.datetime.fromtimestamp(ts, self.config.zone).strftime("%d/%m")

    def fmt_clock(self, ts: float | None, seconds: bool = False) -> str:
        if not ts:
            return "-"
        return dt.datetime.fromtimestamp(ts, self.config.zone).strftime("%H:%M:%S" if seconds else "%H:%M")

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self.accounts.end_open_alarms(time.time())
        await asyncio.to_thread(self._prune)
        if self.log_figures is not None:
            self.live.set_figures(self.log_figures.figures(self.now()))
        if self.link is not None:
            self.link.start(loop)
        self._tasks.append(asyncio.create_task(self._ticker()))

    def stop_streams(self) -> None:
        """The server is stopping: every live page ends its stream now (the browser reconnects to the
        next console and says meanwhile that the console does not answer)."""
        self.closing.set()
        self.changes.bump()

    async def shutdown(self) -> None:
        self.stop_streams()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.link is not None:
            await asyncio.to_thread(self.link.stop)

    def on_message(self, topic: str, payload: bytes) -> None:
        """From the link, on the loop."""
        pages = self.live.ingest(topic, payload, self.now())
        if pages:
            self._evaluate()
            self.changes.bump(pages)
            fig = self.live.figures
            if self.log_figures is not None and self.live.log_position() > (fig.seq if fig else 0):
                self._refresh_figures()

    def on_connection(self, connected: bool) -> None:
        if connected == self.live.connected:
            return
        self.live.set_connected(connected, self.now())
        now = time.monotonic()
        if connected:
            self._connected_at = now
            self._takeover_check(now)
        else:
            log.warning("the console lost the broker: pages say so, actions are refused at once until it is back")
            if self._connected_at is not None:
                self._lost = (now, now - self._connected_at)
            self._connected_at = None
        self._evaluate()
        self.changes.bump()

    def _takeover_check(self, now: float) -> None:
        """Connections that the broker keeps ending right after they start, while it is up (the console
        is connected again at once): another process connects with this console's client id (a second
        console with the same ``[console] id``), and the two would take the connection from each other
        for ever.  This one stops, with the reason."""
        lost, self._lost = self._lost, None
        if lost is None or now - lost[0] > TAKEOVER_GAP_S or lost[1] > TAKEOVER_SHORT_S:
            return
        self._takeovers.append(now)
        short = [at for at in self._takeovers if now - at < TAKEOVER_WINDOW_S]
        served = now - self.started
        needed = TAKEOVER_COUNT_NEW if served < TAKEOVER_WINDOW_S + TAKEOVER_SHORT_S else TAKEOVER_COUNT_OLD
        if len(short) < needed or self.fatal is not None:
            return
        assert self.link is not None
        self.fatal = (f"the broker ended this console's connection {len(short)} times within seconds of connecting: "
                      f"another process uses the console's identity console.{self.link.console_id} (a second "
                      "`antre console run` for this site with the same [console] id?). Stop the other one, or give "
                      "each console its own id; this console stops now")
        log.error("%s", self.fatal)
        if self.on_fatal is not None:
            self.on_fatal(self.fatal)

    def _refresh_figures(self) -> None:
        if self._refreshing or self.log_figures is None:
            return
        self._refreshing = True
        reader = self.log_figures

        async def refresh() -> None:
            try:
                while True:
                    await asyncio.to_thread(reader.refresh)
                    self.live.set_figures(reader.figures(self.now()))
                    self._evaluate()
                    self.changes.bump(QUEUE_PAGES)
                    if self.live.log_position() <= reader.seq:
                        break
                    await asyncio.sleep(0.05)  # the central published before its commit reached us: read again
                    if self.live.log_position() > reader.seq + 10000:
                        break
            except Exception:  # never stop the console over a read
                log.exception("reading the event log failed")
            finally:
                self._refreshing = False

        self._tasks.append(asyncio.create_task(refresh()))
        self._tasks = [t for t in self._tasks if not t.done()]

    def _evaluate(self) -> bool:
        """Recompute the alarms; a change is pushed to the pages that list them."""
        now = self.now()
        started, ended = self.live.evaluate(now)
        updated = self.live.updated
        if started or ended or updated:
            self.changes.bump(frozenset({"site", "fleet"}))
        for alarm in ended:  # first: an alarm that became another under its key ends before the new one
            log.info("alarm over %s: %s", alarm.key, alarm.subject)
            self.accounts.alarm_ended(alarm.key, time.time())
        for alarm in started:
            level = logging.WARNING if alarm.severity == "alarm" else logging.INFO
            log.log(level, "alarm %s: %s: %s", alarm.key, alarm.subject, alarm.text)
            self.accounts.alarm_ended(alarm.key, time.time())
            self.accounts.alarm_started(alarm.key, alarm.kind, alarm.subject, alarm.text, time.time())
        for alarm in updated:  # the same alarm, a new figure in its text (a crowd's count): no new record
            self.accounts.alarm_updated(alarm.key, alarm.text)
        return bool(started or ended or updated)

    def _prune(self) -> None:
        try:
            gone = self.accounts.prune()
        except Exception:  # never stop the console over housekeeping
            log.exception("pruning the console database failed")
            return
        if gone:
            log.info("dropped %d old rows of the access journal, alarm history and sessions", gone)

    async def _ticker(self) -> None:
        """Time passes: alarms that depend on it (a lease not renewed, a long wait), pings,
        minutes on the screen.  Server-side: the browsers only listen."""
        ticks = 0
        while True:
            await asyncio.sleep(TICK_S)
            ticks += 1
            self.progress.touch()
            try:
                self._evaluate()
                if ticks % 60 == 0:
                    self.live.sample_usual()
                if ticks % 30 == 0 and self.link is not None and self.link.connected:
                    self.link.ping()
                if ticks % PRESENCE_RENEW_S == 0 and self.link is not None and self.link.connected:
                    self.link.renew_presence()
                if ticks % PRUNE_EVERY_S == 0:
                    self._tasks.append(asyncio.create_task(asyncio.to_thread(self._prune)))
                    self._tasks = [t for t in self._tasks if not t.done()]
                if ticks % 20 == 0:  # minutes on the screen ("dilayani 12 mnt") move on
                    self.changes.bump()
            except Exception:
                log.exception("console ticker")

    # ------------------------------------------------------------------ rendering

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = context.pop("user", None) or current_user(request)
        context.setdefault("stream", "")
        body = self.render(name, user=user, csrf=csrf_token(request), flash=pop_flash(request),
                           connected=self.live.connected, path=request.url.path, **context)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def _cached(self, key: str, build: Callable[[], str]) -> str:
        version = self.changes.version(key.split("/", 1)[0])
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        html = build()
        self._cache[key] = (version, html)
        return html

    def site_fragment(self) -> str:
        def build() -> str:
            now = self.now()
            return self.render("_site.html", services=self.live.services(now), gerai=self.live.gerai_rows(now),
                               alarms=sorted(self.live.alarms.values(), key=lambda a: (a.severity != "alarm", a.key)),
                               central=self.live.central(now), now=now, figures=self.live.figures,
                               connected=self.live.connected)
        return self._cached("site", build)

    def counter_fragment(self, gerai: str) -> str:
        def build() -> str:
            now = self.now()
            return self.render("_counter_state.html", g=self.live.gerai_row(gerai, now), now=now,
                               connected=self.live.connected, central=self.live.central(now),
                               services={s.id: s for s in self.live.services(now)})
        return self._cached(f"counter/{gerai}", build)

    def day_fragment(self) -> str:
        def build() -> str:
            now = self.now()
            return self.render("_day.html", services=self.live.services(now), message=self.live.message, now=now,
                               figures=self.live.figures)
        return self._cached("day", build)

    def link_banner(self) -> str:
        """The banner every page shows while the console has no broker (pushed when that changes)."""
        return self.render("_link_banner.html", connected=self.live.connected)

    def fleet_fragment(self, bundles: bool = False) -> str:
        """The fleet table; with ``bundles`` (technicians, admins) each configured gerai and kiosk
        links its provisioning bundle and QR code."""
        def build() -> str:
            now = self.now()
            return self.render("_fleet.html", devices=self.live.devices(now), central=self.live.central(now),
                               printer_name=printer_name,
                               alarms=sorted(self.live.alarms.values(), key=lambda a: (a.severity != "alarm", a.key)),
                               history=self.accounts.alarm_history(50), now=now, connected=self.live.connected,
                               bundles=bundles)
        return self._cached("fleet/bundles" if bundles else "fleet", build)


# ---------------------------------------------------------------------- sessions, CSRF, flash


def current_user(request: Request) -> User | None:
    user = request.scope.get("antre.user")
    return user if isinstance(user, User) else None


def current_session(request: Request) -> str:
    """The id of the request's live session ("" when signed out)."""
    sid = request.scope.get("antre.session")
    return sid if isinstance(sid, str) else ""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, fields: dict[str, str]) -> None:
    expected = request.session.get("csrf")
    given = fields.get("csrf") or request.headers.get("x-csrf-token", "")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(given.encode("utf-8", "replace"),
                                                                              expected.encode()):
        raise FormError("Permintaan ditolak: token keamanan (CSRF) tidak cocok atau kedaluwarsa. Muat ulang "
                        "halaman, lalu coba lagi.", 403)


def flash(request: Request, text: str, ok: bool = True) -> None:
    request.session["flash"] = [text[:300], ok]


def pop_flash(request: Request) -> tuple[str, bool] | None:
    value = request.session.pop("flash", None)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        return value[0], bool(value[1])
    return None


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "?"


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} dtk"
    if seconds < 3600:
        return f"{seconds // 60:.0f} mnt"
    return f"{seconds // 3600:.0f} j {seconds % 3600 // 60:.0f} mnt"


class SecurityHeaders:
    """Headers on every response: a strict CSP (scripts and styles from the console itself only),
    no framing, no sniffing; and an Origin check on every POST (a forged cross-site form)."""

    CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app, self.tls = app, tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if self.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        if scope["method"] == "POST":
            headers = dict(scope.get("headers", []))
            origin = headers.get(b"origin")
            host = headers.get(b"host", b"")
            if origin is not None and origin not in (b"null",) and origin.split(b"://", 1)[-1] != host:
                response = HTMLResponse(_error_html("Permintaan ditolak: formulir dikirim dari situs lain "
                                                    "(Origin tidak cocok)."), status_code=403)
                await response(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)


class Authenticate:
    """Puts the signed-in account into ``scope["antre.user"]`` (and its session id into
    ``scope["antre.session"]``): the cookie names a server-side session, looked up in the database at
    every request, so signing out, a removed account, a changed password or the session's end count at
    once, wherever a copy of the cookie is."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            session = scope.get("session") or {}
            sid = session.get("sid")
            user = self.console.accounts.session_user(sid) if isinstance(sid, str) else None
            if user is not None and session.get("user") == user.name:
                scope["antre.user"] = user
                scope["antre.session"] = sid
            elif sid is not None or "user" in session:
                for key in ("sid", "user", "stamp"):
                    session.pop(key, None)
        await self.app(scope, receive, send)


def _error_html(text: str) -> str:
    from html import escape

    return (f"<!doctype html><html lang=id><meta charset=utf-8><title>antre konsol</title>"
            f"<link rel=stylesheet href=/static/console.css><main class=narrow><h1>Tidak dapat diproses</h1>"
            f"<p class='flash bad' role=alert>{escape(text)}</p><p><a href=/>Kembali</a></p></main></html>")


# ---------------------------------------------------------------------- the application


def build_app(console: Console) -> Starlette:
    """The ASGI application of ``console``."""
    Handler = Callable[[Request], Awaitable[Response]]

    def needs(roles: frozenset[Role] | None) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            async def guarded(request: Request) -> Response:
                user = current_user(request)
                if user is None:
                    if request.method == "GET" and not request.url.path.startswith("/sse/"):
                        return RedirectResponse(f"/login?next={request.url.path}", 303)
                    return _refuse(request, "Sesi berakhir: silakan masuk lagi.", 401)
                if roles is not None and user.role not in roles:
                    if console.accounts.journal_burst(user.name, client_addr(request), "refused", request.url.path):
                        log.warning("refused %s %s to %s (%s)", request.method, request.url.path, user.name,
                                    user.role.value)
                    return _refuse(request, f"Halaman ini bukan untuk peran {ROLE_NAMES[user.role]}.", 403)
                try:
                    return await handler(request)
                except FormError as exc:
                    log.info("refused a form from %s on %s: %s", user.name, request.url.path, exc.text)
                    return _refuse(request, exc.text, exc.status)
            return guarded
        return wrap

    def _refuse(request: Request, text: str, status: int) -> Response:
        if request.headers.get("hx-request"):
            body = console.render("_flash.html", flash=(text, False))
            # htmx swaps only 2xx by default: retarget the refusal into the flash area
            return HTMLResponse(body, status_code=status, headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        user = current_user(request)
        return console.page(request, "error.html", status=status, message=text, user=user)

    # -------------------------------------------------------------- sign in and out

    async def home(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", 303)
        if user.role is Role.STAFF:
            return RedirectResponse(f"/counter/{user.gerai[0]}" if len(user.gerai) == 1 else "/counter", 303)
        if user.role is Role.TECHNICIAN:
            return RedirectResponse("/fleet", 303)
        return RedirectResponse("/site", 303)

    async def login_page(request: Request) -> Response:
        return console.page(request, "login.html", next=_safe_next(request.query_params.get("next", "")))

    async def login(request: Request) -> Response:
        """A sign-in, within the limits of :mod:`antre.console.signin` (reserved before the hash)."""
        try:
            fields = await forms.read_form(request)
            check_csrf(request, fields)
            name = fields.get("name", "").strip().lower()[:64]
            password = fields.get("password", "")
        except FormError as exc:
            return console.page(request, "login.html", status=exc.status, error=exc.text, next="")
        shown = name[:32]  # the name stays in the field after a refusal (the password never does)
        addr = client_addr(request)
        wall = time.monotonic()
        gate = console.gate
        known = gate.needs_known_address(name, wall) and console.accounts.known_address(name, addr)
        admitted = gate.reserve(name, addr, wall, known_address=known)
        if isinstance(admitted, Refusal):
            return _login_refused(request, name, addr, admitted, shown, fields)
        try:
            await console.hash_slots.acquire(first=admitted.clean)
        except BaseException:
            gate.abandoned(admitted)
            raise
        try:
            user = await asyncio.to_thread(console.accounts.authenticate, name, password)
        except BaseException:
            gate.abandoned(admitted)
            raise
        finally:
            console.hash_slots.release()
        if user is None:
            gate.failed(admitted, time.monotonic())
            console.accounts.journal(name, addr, "login_failed")
            log.warning("failed sign-in of %r from %s", name, addr)
            return console.page(request, "login.html", status=401, next=_safe_next(fields.get("next", "")),
                                account=shown, error="Nama akun atau kata sandi salah.")
        gate.succeeded(admitted)
        request.session.clear()
        sid = console.accounts.open_session(user, addr, console.config.console.session_hours * 3600)
        request.session.update({"sid": sid, "user": user.name, "csrf": secrets.token_urlsafe(32)})
        console.accounts.journal(user.name, addr, "login")
        log.info("%s (%s) signed in from %s", user.name, user.role.value, addr)
        target = _safe_next(fields.get("next", ""))
        return RedirectResponse(target or "/", 303)

    def _login_refused(request: Request, name: str, addr: str, refusal: Refusal, shown: str,
                       fields: dict[str, str]) -> Response:
        if refusal.verdict is Verdict.BUSY:
            what = "login_busy"
            error = "Konsol sedang sibuk memeriksa banyak percobaan masuk. Coba lagi beberapa detik lagi."
        else:
            what = "login_blocked"
            error = (f"Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {int(refusal.wait_s) + 1} detik"
                     + (" (atau dari komputer tempat akun ini biasa masuk)." if refusal.scope == "account" else "."))
        # one journal row and one log line per burst, whatever the flood (its row counts the rest); a busy
        # console is one row per address, whichever names it was sent
        who = "-" if refusal.verdict is Verdict.BUSY else name
        if console.accounts.journal_burst(who, addr, what, f"batas: {refusal.scope}"):
            log.warning("sign-in of %r from %s refused (%s, %s): %s", name, addr, refusal.verdict.value,
                        refusal.scope, "too many tries at once" if refusal.verdict is Verdict.BUSY
                        else "too many failed attempts")
        return console.page(request, "login.html", status=429, next=_safe_next(fields.get("next", "")),
                            account=shown, error=error)

    async def logout(request: Request) -> Response:
        user = current_user(request)
        try:
            fields = await forms.read_form(request)
            check_csrf(request, fields)
        except FormError as exc:
            return _refuse(request, exc.text, exc.status)
        sid = current_session(request)
        if sid:
            console.accounts.end_session(sid)  # a copy of the cookie is worth nothing from now on
            console.changes.bump()  # its open live pages end at their next look
        if user is not None:
            console.accounts.journal(user.name, client_addr(request), "logout")
        request.session.clear()
        return RedirectResponse("/login", 303)

    # -------------------------------------------------------------- pages

    @needs(SITE_ROLES)
    async def site_page(request: Request) -> Response:
        return console.page(request, "site.html", fragment=console.site_fragment(), stream="/sse/site")

    @needs(None)
    async def counter_index(request: Request) -> Response:
        user = current_user(request)
        assert user is not None
        gerai = [g for g in console.config.gerai.values() if user.may_serve(g.id)]
        if not gerai:
            return _refuse(request, "Akun ini tidak terdaftar di gerai mana pun.", 403)
        return console.page(request, "counter_index.html", gerai=gerai)

    def _gerai_for(request: Request) -> tuple[User, str]:
        user = current_user(request)
        assert user is not None
        gerai = request.path_params["gerai"]
        if gerai not in console.config.gerai:
            raise FormError("Gerai tidak dikenal di situs ini.", 404)
        if not user.may_serve(gerai):
            console.accounts.journal(user.name, client_addr(request), "refused", f"gerai {gerai}")
            log.warning("refused %s at gerai %s: not bound to it (%s)", user.name, gerai, user.gerai)
            raise FormError(f"Akun {user.name} tidak terdaftar untuk {console.config.gerai[gerai].name}.", 403)
        return user, gerai

    def _actions(request: Request, gerai: str, reply: tuple[str, bool] | None = None) -> str:
        conf = console.config.gerai[gerai]
        services = console.live.services(console.now())
        waiting = [n for s in services if s.id in conf.services for n in s.waiting_numbers]
        health = console.live.health.get((DeviceRole.GERAI.value, gerai))
        state = console.live.gerai.get(gerai)
        # the printer as the gerai last reported it: "none" (no printer attached), its status, or "" (no report)
        printer = "" if health is None else ("none" if health.printer is None else str(health.printer))
        return console.render("_counter_actions.html", gerai=conf, csrf=csrf_token(request), nonce=secrets.token_hex(8),
                              targets=[s for s in console.config.services.values()],
                              waiting_numbers=waiting, reply=reply, printer=printer,
                              seen=(state.ticket or "-") if state is not None else "-")

    @needs(None)
    async def counter_page(request: Request) -> Response:
        _, gerai = _gerai_for(request)
        return console.page(request, "counter.html", gerai=console.config.gerai[gerai],
                            state=console.counter_fragment(gerai), actions=_actions(request, gerai),
                            stream=f"/sse/counter/{gerai}")

    @needs(None)
    async def counter_act(request: Request) -> Response:
        user, gerai = _gerai_for(request)
        fields = await forms.read_form(request)
        check_csrf(request, fields)
        nonce = fields.get("nonce", "")
        if not _NONCE.match(nonce):
            raise FormError("Formulir kedaluwarsa: muat ulang halaman.")
        action = forms.choice(fields, "action", "Perintah", COUNTER_ACTIONS)
        cid = command_id(user.name, nonce, action)
        if action == "reprint":
            _printer_ready(gerai)
        command = _counter_command(action, gerai, fields, cid)
        reply = await _send(user, gerai, command, cid)
        if request.headers.get("hx-request"):
            return HTMLResponse(_actions(request, gerai, reply))
        flash(request, reply[0], reply[1])
        return RedirectResponse(f"/counter/{gerai}", 303)

    def _printer_ready(gerai: str) -> None:
        """A reprint goes to the gerai's own printer: refused here, with the reason, when its last health
        report says it has none or it cannot print (the central would accept the job all the same)."""
        health = console.live.health.get((DeviceRole.GERAI.value, gerai))
        if health is None:
            return  # no report yet: the gerai's answer (print_ack) says how it went
        if health.printer is None:
            raise FormError(f"{console.config.gerai[gerai].name} tidak punya printer: cetak ulang di anjungan.")
        if health.printer in m.PRINTER_FAULTS:
            raise FormError(f"Printer {console.config.gerai[gerai].name} tidak siap ({health.printer}): "
                            "perbaiki dulu, lalu cetak ulang.")

    def _counter_command(action: str, gerai: str, fields: dict[str, str], cid: str) -> m.ConsoleAction:
        # the ticket the person saw served when they acted (the page sends it): the central refuses an
        # action that would land on another (not_current); a form without it is checked against nothing
        seen = fields.get("expect", "").strip().upper()
        expect = seen if re.fullmatch(r"[A-Z]{1,2}[0-9]{1,6}|-", seen) else None
        if action == "call_next":
            return m.CallNext(id=cid, expect=expect)
        if action == "recall":
            return m.Recall(id=cid, expect=expect)
        if action == "no_show":
            return m.NoShow(id=cid, expect=expect)
        if action == "done":
            return m.Done(id=cid, expect=expect)
        if action == "resume":
            return m.Resume(id=cid)
        if action == "pause":  # the reason shows on the lobby screen
            reason = forms.text(fields, "reason", "Alasan istirahat", min_len=3, required=True, reason=True,
                                lobby=True)
            return m.Pause(id=cid, reason=reason)
        if action == "transfer":
            service = forms.choice(fields, "service", "Layanan tujuan", set(console.config.services))
            note = forms.text(fields, "note", "Catatan", max_len=200)
            return m.Transfer(id=cid, service=service, note=note, expect=expect)
        if action == "reprint":  # on this counter's printer; the number typed, else the one being served
            number = forms.ticket_number(fields, "ticket", "Nomor yang dicetak ulang", optional=True,
                                         config=console.config)
            if number is None and expect is not None:  # the one on the screen when it was clicked
                number = None if expect == "-" else expect
            elif number is None:
                state = console.live.gerai.get(gerai)
                number = state.ticket if state is not None else None
            if number is None:
                raise FormError("Isi nomor antrean yang dicetak ulang (gerai ini sedang tidak melayani nomor).")
            return m.Reprint(id=cid, ticket=number)
        ticket = forms.ticket_number(fields, "ticket", "Nomor antrean", config=console.config)
        reason = forms.text(fields, "reason", "Alasan panggilan di luar urutan", min_len=3, required=True,
                            reason=True)
        return m.CallTicket(id=cid, ticket=ticket, reason=reason, expect=expect)

    async def _send(user: User, gerai: str | None, command: m.ConsoleAction, cid: str) -> tuple[str, bool]:
        if console.link is None or not console.link.connected:
            # answered at once: the console knows it cannot reach the central now (nothing was sent)
            log.warning("%s by %s at %s not sent: the console has no broker", type(command).__name__, user.name,
                        gerai or "-")
            return ("Konsol tidak terhubung ke broker MQTT: perintah TIDAK dikirim. Tunggu sampai tanda "
                    "merah di atas hilang, lalu coba lagi (atau pakai tombol fisik gerai)."), False
        try:
            reply = await console.link.send(user.name, user.role.value, gerai, command, cid)
        except NoReply:
            log.warning("no reply from the central to %s (%s by %s)", cid, type(command).__name__, user.name)
            return ("Server antrean tidak menjawab (central atau broker mati?). Perintah mungkin belum "
                    "dijalankan: periksa status, lalu coba lagi."), False
        log.info("%s by %s at %s: %s %s", type(command).__name__, user.name, gerai or "-", reply.code,
                 reply.text_en)
        return reply.text_id or reply.code, reply.ok

    @needs(DAY_ROLES)
    async def day_page(request: Request) -> Response:
        return console.page(request, "day.html", fragment=console.day_fragment(), nonce=secrets.token_hex(8),
                            stream="/sse/day",
                            services=list(console.config.services.values()),
                            message=console.live.message)

    @needs(DAY_ROLES)
    async def day_act(request: Request) -> Response:
        user = current_user(request)
        assert user is not None
        fields = await forms.read_form(request)
        check_csrf(request, fields)
        nonce = fields.get("nonce", "")
        if not _NONCE.match(nonce):
            raise FormError("Formulir kedaluwarsa: muat ulang halaman.")
        action = forms.choice(fields, "action", "Perintah", DAY_ACTIONS)
        cid = command_id(user.name, nonce, action)
        services = set(console.config.services)
        command: m.ConsoleAction
        if action == "stop_issuing":
            service = forms.choice(fields, "service", "Layanan", services)
            reason = forms.text(fields, "reason", "Alasan", min_len=3, required=True, reason=True, lobby=True)
            command = m.StopIssuing(id=cid, service=service, reason=reason)
        elif action == "resume_issuing":
            command = m.ResumeIssuing(id=cid, service=forms.choice(fields, "service", "Layanan", services))
        elif action == "set_quota":
            service = forms.choice(fields, "service", "Layanan", services)
            quota = forms.number(fields, "quota", "Kuota hari ini", low=0, high=100000, optional=True)
            command = m.SetQuota(id=cid, service=service, quota=quota)
        else:
            command = m.LobbyMessage(id=cid, text=forms.text(fields, "text", "Pesan lobi", max_len=200, lobby=True))
        text, ok = await _send(user, None, command, cid)
        flash(request, text, ok)
        return RedirectResponse("/day", 303)

    def _may_bundle(request: Request) -> bool:
        user = current_user(request)
        return user is not None and user.role in BUNDLE_ROLES

    @needs(FLEET_ROLES)
    async def fleet_page(request: Request) -> Response:
        may = _may_bundle(request)
        config = console.config
        return console.page(request, "fleet.html", fragment=console.fleet_fragment(may), may_bundle=may,
                            stream="/sse/fleet",
                            bundle_devices=bundles.devices(config) if may else [],
                            kiosk_services={k: bundles.kiosk_services(config, k) for k in config.kiosks},
                            displays=bundles.DISPLAYS, public_displays=bundles.PUBLIC_DISPLAYS)

    @needs(BUNDLE_ROLES)
    async def fleet_bundle(request: Request) -> Response:
        """A device's bundle (``format=toml``: its file, as an attachment) or its QR code (``png``),
        made now from the site's credentials; every download goes to the access journal."""
        user = current_user(request)
        assert user is not None
        fields = {k: v[:200] for k, v in request.query_params.items()}
        wanted = bundles.parse_request(console.config, fields)
        body = await asyncio.to_thread(bundles.make, console.config, console.credentials_path, wanted)
        what = "device file" if wanted.format == "toml" else "QR code"
        console.accounts.journal(user.name, client_addr(request), "bundle",
                                 f"{wanted.role} {wanted.device} "
                                 f"{'berkas perangkat' if wanted.format == 'toml' else 'kode QR'}")
        log.warning("%s (%s) took the provisioning bundle of %s %s (%s) from %s: it holds that device's secret",
                    user.name, user.role.value, wanted.role, wanted.device, what, client_addr(request))
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if wanted.format == "toml":
            headers["Content-Disposition"] = f'attachment; filename="{wanted.filename}"'
            return Response(body, media_type="application/toml; charset=utf-8", headers=headers)
        headers["Content-Disposition"] = f'inline; filename="{wanted.filename}"'
        return Response(body, media_type="image/png", headers=headers)

    @needs(frozenset({Role.ADMIN}))
    async def accounts_page(request: Request) -> Response:
        """The accounts and the access journal, newest first, a page at a time (``?sebelum=<row>``)."""
        raw = request.query_params.get("sebelum", "")
        before = int(raw) if re.fullmatch(r"[0-9]{1,12}", raw) else None
        rows = console.accounts.journal_entries(JOURNAL_PAGE + 1, before)
        older = rows[JOURNAL_PAGE - 1].id if len(rows) > JOURNAL_PAGE else None
        return console.page(request, "accounts.html", users=console.accounts.users(), journal=rows[:JOURNAL_PAGE],
                            older=older, paged=before is not None, journal_names=JOURNAL_NAMES)

    # -------------------------------------------------------------- server-sent events

    def _stream(request: Request, event: str, render: Callable[[], str]) -> Response:
        """A page's live stream: its fragment (event ``<page>``) whenever it changes, and the broker
        banner (event ``link``) whenever the console's own connection changes.  The session is looked up
        again before every push (and at least every :data:`SSE_PING_S`): signing out, a removed
        account, a new password or the session's end stop the stream at once."""
        page = event  # the SSE event is named after its page
        user = current_user(request)
        sid = current_session(request)
        assert user is not None
        if not console.streams.open(sid, user.name):
            if console.accounts.journal_burst(user.name, client_addr(request), "stream_refused", request.url.path):
                log.warning("refused a live page of %s from %s: too many open (%d in all)", user.name,
                            client_addr(request), console.streams.total)
            return PlainTextResponse("Terlalu banyak halaman langsung terbuka: tutup beberapa tab.", 429)

        async def events() -> AsyncIterator[dict[str, str]]:
            last = banner = ""  # the first look pushes both (the page may be older than the stream)
            seen = -1
            try:
                while not console.closing.is_set():
                    await console.changes.wait(page, seen, SSE_PING_S)
                    if console.closing.is_set():
                        return
                    seen = console.changes.version(page)
                    fresh = console.accounts.session_user(sid)
                    if fresh is None or fresh.stamp != user.stamp:
                        log.info("the live page of %s ended: its session is over", user.name)
                        return
                    now_banner = console.link_banner()
                    if now_banner != banner:
                        banner = now_banner
                        yield {"event": "link", "data": banner}
                    html = render()
                    if html != last:
                        last = html
                        yield {"event": event, "data": html}
                    await asyncio.sleep(PUSH_MIN_INTERVAL)
            finally:
                console.streams.close(sid, user.name)

        return EventSourceResponse(events(), ping=SSE_PING_S, headers={"Cache-Control": "no-store"})

    @needs(SITE_ROLES)
    async def sse_site(request: Request) -> Response:
        return _stream(request, "site", console.site_fragment)

    @needs(None)
    async def sse_counter(request: Request) -> Response:
        _, gerai = _gerai_for(request)
        return _stream(request, "counter", lambda: console.counter_fragment(gerai))

    @needs(DAY_ROLES)
    async def sse_day(request: Request) -> Response:
        return _stream(request, "day", console.day_fragment)

    @needs(FLEET_ROLES)
    async def sse_fleet(request: Request) -> Response:
        may = _may_bundle(request)
        return _stream(request, "fleet", lambda: console.fleet_fragment(may))

    async def healthz(request: Request) -> Response:
        ok = console.live.connected
        return PlainTextResponse("ok\n" if ok else "broker not connected\n", status_code=200 if ok else 503)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = {404: "Halaman tidak ditemukan.", 405: "Metode tidak diizinkan untuk halaman ini."}.get(
            status, "Permintaan tidak dapat diproses.")
        return HTMLResponse(_error_html(text), status_code=status)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("error on %s %s", request.method, request.url.path, exc_info=exc)
        return HTMLResponse(_error_html("Terjadi kesalahan di konsol; sudah dicatat untuk teknisi."), status_code=500)

    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/site", site_page),
        Route("/counter", counter_index),
        Route("/counter/{gerai}", counter_page, methods=["GET"]),
        Route("/counter/{gerai}", counter_act, methods=["POST"]),
        Route("/day", day_page, methods=["GET"]),
        Route("/day", day_act, methods=["POST"]),
        Route("/fleet", fleet_page),
        Route("/fleet/bundle", fleet_bundle, methods=["GET"]),
        Route("/accounts", accounts_page),
        Route("/sse/site", sse_site),
        Route("/sse/counter/{gerai}", sse_counter),
        Route("/sse/day", sse_day),
        Route("/sse/fleet", sse_fleet),
        Route("/healthz", healthz),
        *reports.routes(console, needs),  # the reports (issue 16)
        *ticket.routes(console), *survey.routes(console, needs),  # the ticket page, the SKM (issue 16)
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await console.startup()
        try:
            yield
        finally:
            await console.shutdown()

    session_max_age = int(console.config.console.session_hours * 3600)
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, tls=console.tls),
            Middleware(SessionMiddleware, secret_key=console.accounts.session_key(), session_cookie=COOKIE,
                       max_age=session_max_age, same_site="strict", https_only=console.tls),
            Middleware(Authenticate, console=console),
        ],
        exception_handlers={HTTPException: not_found, 404: not_found, 405: not_found, 500: server_error},
        lifespan=lifespan,
    )


def _safe_next(value: str) -> str:
    """A local path to go to after signing in (never another site)."""
    return value if re.fullmatch(r"/[a-z0-9/_-]{0,80}", value) and not value.startswith("//") else ""


__all__ = ["Console", "build_app", "format_date_id"]
