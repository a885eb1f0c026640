"""The laptop demo: embedded broker + central service + simulated devices, all on MQTT.

``antre demo`` starts, in one process, the embedded broker on a free loopback
port, the central service on the site config, and one MQTT client per gerai,
kiosk and lobby, each with its own generated credentials, so everything talks
through the same topics, ACLs and messages as in production.

* interactive (a terminal): type commands to take tickets and press the
  gerai buttons; the number displays and the lobby board update live;
* ``--headless --duration SECONDS``: plays the scripted morning of
  :mod:`antre.sim.morning` over MQTT, paced over the given wall-clock time, and
  prints a summary with the measured press-to-display latencies.

Every gerai and kiosk also runs the real edge agent on mock hardware
(gpiozero's MockFactory buttons, luma's dummy OLED device, the pty mock
printer), so the number displays render real frames (saved as PNG) and the
kiosks print real ESC/POS tickets.  The scripted story drives the richer
commands (out-of-order calls with a reason, transfers) through plain MQTT
clients with the same credentials; in the interactive demo ``b g01`` presses
a gerai's mock button.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import random
import shlex
import shutil
import socket
import subprocess
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import msgspec
import tomli_w

from antre.broker.wire import codec
from antre.broker.admin import credentials as creds
from antre.broker.wire import messages as m
from antre.broker.wire.feed import SiteFeed
from antre.broker.admin.acl import Identity
from antre.broker.link.client import BrokerAddress, MqttLink, Received
from antre.broker.admin.embedded import serve
from antre.broker.wire.topics import Channel, Role, Topics
from antre.central.config import SiteConfig
from antre.sim.morning import MorningScript, default_day, morning_window, speech
from antre.central.runner import CentralRunner
from antre.central.service import Handled, QueueService
from antre.lobby import voicepack
from antre.lobby.app import LobbyApp
from antre.lobby.room import Room, site_clips
from antre.lobby.voicepack import VoicePack, default_cache
from antre.central.store import EventStore
from antre.hardware.gestures import Gesture
from antre.edge.config import parse_device
from antre.edge.agent import EdgeAgent
from antre.edge.setup import Assembly, assemble

log = logging.getLogger(__name__)

TIMEOUT = 10.0
BUTTON_PIN = 17
#: the operations console of the demo (another port when this one is taken) and its accounts
DEMO_CONSOLE_PORT = 8480
DEMO_ACCOUNTS = (("admin", "admin", False), ("supervisor", "supervisor", False), ("teknisi", "technician", False),
                 ("petugas", "staff", True))
DEMO_PASSWORD = {"admin": "demo-admin", "supervisor": "demo-supervisor", "teknisi": "demo-teknisi",
                 "petugas": "demo-petugas"}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManualClock:
    """The central's clock in the scripted demo: the script sets the time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RealTimeFrom:
    """A day that starts at ``start`` and runs at the speed of the wall clock."""

    def __init__(self, start: float) -> None:
        self.offset = start - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class AgentRecord:
    """What the demo knows of one gerai's or kiosk's edge agent: what it received, for the script
    and the latency figures (the agent owns the device's one connection)."""

    role: Role
    device: str
    agent: EdgeAgent | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    replies: dict[str, m.Reply] = field(default_factory=dict)
    jobs: dict[str, m.PrintJob] = field(default_factory=dict)
    state: m.GeraiState | None = None
    state_log: list[tuple[str | None, float]] = field(default_factory=list)  # (ticket shown, arrival)
    on_state: Callable[[m.GeraiState], None] | None = None

    def shown(self) -> m.GeraiState | None:
        """The state as the display shows it (contract 2: waiting summed from the service states)."""
        return self.agent.shown_state() if self.agent is not None else self.state

    def on_message(self, channel: Channel, msg: m.Message) -> None:
        """What the device's edge agent received (the agent owns the one connection of its identity)."""
        with self.cond:
            if isinstance(msg, m.Reply):
                self.replies[msg.cmd] = msg
            elif isinstance(msg, m.PrintJob):
                self.jobs[msg.ticket] = msg
            elif isinstance(msg, m.GeraiState):
                if self.state is None or msg.rev >= self.state.rev:
                    self.state = msg
                    self.state_log.append((msg.ticket, time.perf_counter()))
            self.cond.notify_all()
        if channel is Channel.STATE and self.on_state is not None and self.state is not None:
            self.on_state(self.shown() or self.state)

    def wait(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(condition, timeout))


@dataclass
class Latencies:
    reply: list[float] = field(default_factory=list)
    display: list[float] = field(default_factory=list)
    board: list[float] = field(default_factory=list)
    announce: list[float] = field(default_factory=list)


class DemoStack:
    """Broker, central and simulated devices for one site, in this process."""

    def __init__(self, config: SiteConfig, workdir: Path, clock: Callable[[], float], port: int | None = None) -> None:
        if isinstance(clock, ManualClock):
            # The scripted morning jumps the central's clock from one scene to the next: no device
            # can follow such a clock, so the press deadline (a real-time rule) is off here.
            config = dataclasses.replace(
                config, central=msgspec.structs.replace(config.central, command_deadline_s=0.0))
        # the interactive demo prefers a console port a person can remember; the scripted one never races for it
        self.http_port = (DEMO_CONSOLE_PORT if not isinstance(clock, ManualClock) and _port_free(DEMO_CONSOLE_PORT)
                          else _free_port())
        if not config.console.public_url:  # every ticket's QR code opens its page on the demo's console
            config = dataclasses.replace(config, console=msgspec.structs.replace(
                config.console, public_url=f"http://127.0.0.1:{self.http_port}"))
        self.config = config
        self.workdir = workdir
        self.clock = clock
        self.port = port or _free_port()
        self.topics = Topics(config.site_id)
        self.credentials = creds.ensure(workdir / "credentials.toml", config.site_id, config.identities())
        self.devices: dict[tuple[str, str], AgentRecord] = {}
        self.board: m.Board | None = None
        self.feed = SiteFeed(config.site_id, config.site.name)  # the site as a lobby assembles it (contract 2)
        self._board_calls: set[tuple[str, str, float]] = set()
        self.board_log: list[tuple[str, float]] = []  # ("ticket@gerai", arrival) of each new call on the board
        self.announce_log: list[tuple[str, float, m.Announce]] = []
        self.lobby_cond = threading.Condition()
        self.latency = Latencies()
        self._broker_loop: asyncio.AbstractEventLoop | None = None
        self._broker_stop: asyncio.Event | None = None
        self._broker_thread: threading.Thread | None = None
        self._central_thread: threading.Thread | None = None
        self._central_stop = threading.Event()
        self.store: EventStore | None = None
        self.service: QueueService | None = None
        self.lobby: MqttLink | None = None
        self.edges: dict[str, Assembly] = {}
        self.lobby_app: LobbyApp | None = None
        self.voice_note = ""
        self.console_url: str | None = None
        self._console_server: object | None = None
        self._console_thread: threading.Thread | None = None

    def address(self, who: Identity) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.port, self.credentials.username(who), self.credentials.password(who))

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        ready = threading.Event()

        def broker_thread() -> None:
            loop = asyncio.new_event_loop()
            self._broker_loop = loop
            asyncio.set_event_loop(loop)
            self._broker_stop = asyncio.Event()
            loop.call_soon(ready.set)
            loop.run_until_complete(serve("127.0.0.1", self.port, self.config.site_id, self.credentials,
                                          self._broker_stop))

        self._broker_thread = self._spawn(broker_thread)
        ready.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the embedded broker did not start") from None
                self._central_stop.wait(0.02)
        self.store = EventStore(self.workdir / "central.db", self.config.site_id, self.config.store.durability)
        from antre.central.main import ticket_key

        self.service = QueueService.open(self.config, self.store, self.clock(),
                                         ticket_key=ticket_key(self.config, str(self.workdir / "credentials.toml")))
        runner = CentralRunner(self.service, self.address(Identity(Role.CENTRAL)), clock=self.clock)
        self._central_thread = self._spawn(lambda: runner.run(self._central_stop))
        if not runner.ready.wait(TIMEOUT):
            raise RuntimeError("the central service did not become ready")
        self._start_edges()
        for gid in self.config.gerai:
            self._device(Role.GERAI, gid)
        for kid in self.config.kiosks:
            self._device(Role.KIOSK, kid)
        # the demo's own view of the board, as a read-only monitor (the lobby app has the lobby's identity)
        self.lobby = MqttLink(
            self.address(Identity(Role.MONITOR, "ops")),
            subscriptions=[(t, 1) for t in self.feed.subscriptions()] + [(self.topics.announce(), 1)],
            on_message=self._lobby_message,
        )
        self.lobby.start()
        self.lobby.wait_connected(TIMEOUT)
        self._start_lobby()
        self._start_console()

    def _start_console(self) -> None:
        """The operations console (the real application, uvicorn in a thread) with the demo accounts."""
        from antre.console.accounts import AccountError
        from antre.console.main import console_server, make_console

        console = make_console(self.config, host="127.0.0.1", port=self.port,
                               credentials_path=str(self.workdir / "credentials.toml"),
                               database=str(self.workdir / "console.db"), db=str(self.workdir / "central.db"))
        first = next(iter(self.config.gerai))
        for name, role, gerai in DEMO_ACCOUNTS:
            try:
                console.accounts.add(name, role, DEMO_PASSWORD[name], [first] if gerai else [])
            except AccountError:
                pass  # a kept work directory has them already
        http_port = self.http_port
        ready = threading.Event()
        console.on_ready = ready.set
        # the console's own server: no trust in X-Forwarded-For, request deadlines, connection limits
        server = console_server(console, "127.0.0.1", http_port)
        self._console_server = server
        thread = self._console_thread = self._spawn(server.run)
        deadline = time.monotonic() + TIMEOUT
        while not ready.wait(0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                log.warning("the operations console did not start (port %d taken?)", http_port)
                return
        self.console_url = f"http://127.0.0.1:{http_port}/"
        self._console_accounts_note = (
            f"konsol operasional: {self.console_url} (akun demo: "
            + ", ".join(f"{name} / {DEMO_PASSWORD[name]} ({role}{' ' + first if gerai else ''})"
                        for name, role, gerai in DEMO_ACCOUNTS) + ")")

    def console_note(self) -> str:
        return getattr(self, "_console_accounts_note", "konsol operasional: tidak berjalan")

    def _start_lobby(self) -> None:
        """The real lobby process's app (screen model and announcer), on the first lobby's credentials."""
        lobby_id = next(iter(self.config.lobbies), None)
        if lobby_id is None:
            return
        pack = self._voice_pack(lobby_id)
        self.lobby_app = LobbyApp(self.config, lobby_id, self.address(Identity(Role.LOBBY, lobby_id)),
                                  pack=pack, journal=self.workdir / "announced.log", clock=self.clock)
        self.lobby_app.start()
        self.lobby_app.link.connected.wait(TIMEOUT)

    def _voice_pack(self, lobby_id: str) -> VoicePack | None:
        """The espeak-ng pack in the cache, built (or completed) for this site when espeak-ng is here;
        without one the lobby runs silent and :attr:`voice_note` says once how to get a voice."""
        cache = default_cache()
        needed = Room.of(self.config, lobby_id).clips_needed(self.config)
        pack = VoicePack.load(cache) if cache.is_dir() else None
        if pack is not None and not pack.check(needed):
            self.voice_note = f"voice pack {cache}"
            return pack
        if shutil.which("espeak-ng"):
            try:
                voicepack.build(cache, site_clips(self.config))
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("could not build the voice pack: %s", exc)
            else:
                pack = VoicePack.load(cache)
                if not pack.check(needed):
                    self.voice_note = f"voice pack {cache} (built now with espeak-ng)"
                    return pack
        self.voice_note = ("no voice: the lobby shows the calls but does not speak them (install espeak-ng, "
                           "e.g. `sudo apt-get install espeak-ng`, and the demo builds its Indonesian voice; or "
                           "`antre lobby voicepack build --config SITE.toml`)")
        return None

    def voice_summary(self) -> str:
        """What the lobby's voice did with the calls of its room, every call accounted for."""
        app = self.lobby_app
        if app is None:
            return "no lobby in the site file"
        if app.announcer is None:
            return self.voice_note
        c = app.announcer.queue.counts()
        said = c["full"] + c["short"] + c["merged"]
        total = said + c["stale"] + c["chime_only"] + c["queued"]
        current = app.current
        speaking = current is not None and current.ends > app.mono()
        return (f"{self.voice_note}: {total} calls for lobby {app.lobby_id}; announced {said} (full form "
                f"{c['full']}, shortened {c['short']}, said together with another call of its gerai {c['merged']}), "
                f"dropped as "
                f"stale {c['stale']}, chime only (clip missing) {c['chime_only']}, still waiting when the demo "
                f"ended {c['queued']}{' (one was being said)' if speaking else ''}")

    def lobby_snapshot(self, path: Path, size: tuple[int, int] = (1920, 1080)) -> Path | None:
        if self.lobby_app is None:
            return None
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self.lobby_app.snapshot(str(path), size)
        return path

    def _start_edges(self) -> None:
        """A real edge agent on mock hardware for every gerai and kiosk."""
        first_service = next(iter(self.config.services))
        for role, ids in ((Role.GERAI, list(self.config.gerai)), (Role.KIOSK, list(self.config.kiosks))):
            for device in ids:
                button: dict[str, object] = {"name": "utama", "pin": BUTTON_PIN}
                data: dict[str, object] = {
                    # mock pins have no contact bounce, and a typed press is instantaneous
                    "gestures": {"debounce_ms": 0},
                    "device": {"site": self.config.site_id, "role": role.value, "id": device},
                    "broker": {"host": "127.0.0.1", "port": self.port, "keepalive": 5,
                               "password": self.credentials.password(Identity(role, device))},
                    "button": [button],
                }
                if role is Role.GERAI:
                    button.update(press="call_next", double="recall", hold="no_show")
                    data["display"] = {"type": "ssd1306"}
                else:
                    kiosk = self.config.kiosks[device]
                    button.update(press="take_ticket", hold="take_priority_ticket")
                    data["printer"] = {"port": "mock"}
                    data["tickets"] = {"service": kiosk.services[0] if kiosk.services else first_service}
                text = tomli_w.dumps(data)
                assembly = assemble(parse_device(text, f"demo-{device}.toml"), mock=True)
                assembly.agent.start()
                self.edges[device] = assembly
        for assembly in self.edges.values():
            assembly.agent.ready.wait(TIMEOUT)

    def press(self, device: str, gesture: str = "press") -> None:
        """Press the mock button of a gerai or kiosk edge agent (press, double or hold)."""
        assembly = self.edges[device]
        pin = assembly.pin_factory.pin(BUTTON_PIN)
        if gesture == "hold":
            assembly.agent.on_gesture("utama", Gesture.HOLD)
            return
        for _ in range(2 if gesture == "double" else 1):
            pin.drive_low()
            pin.drive_high()

    def snapshots(self, directory: Path) -> list[Path]:
        """Save a PNG of every gerai display (4x the OLED's 128x64 pixels)."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for device, assembly in sorted(self.edges.items()):
            display = assembly.agent.hw.display
            frame = getattr(display, "frame", None)
            if frame is None:
                continue
            path = directory / f"{device}.png"
            frame.convert("L").resize((frame.width * 4, frame.height * 4)).save(path)
            paths.append(path)
        return paths

    def _spawn(self, target: Callable[[], object]) -> threading.Thread:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread

    def _device(self, role: Role, device: str) -> AgentRecord:
        agent = self.edges[device].agent
        sim = AgentRecord(role, device, agent)
        agent.listeners.append(sim.on_message)
        with sim.cond:  # what the agent already has (the retained state arrived at connect)
            if agent.state is not None:
                sim.state = agent.state
        self.devices[(role.value, device)] = sim
        return sim

    def _lobby_message(self, msg: Received) -> None:
        now = time.perf_counter()
        with self.lobby_cond:
            if not msg.topic.endswith("/announce"):
                if self.feed.offer(msg.topic, msg.payload):
                    self.board = board = self.feed.board()
                    for call in board.calls:
                        if (call.ticket, call.gerai, call.ts) not in self._board_calls:
                            self._board_calls.add((call.ticket, call.gerai, call.ts))
                            self.board_log.append((f"{call.ticket}@{call.gerai}", now))
            else:
                a = codec.decode(msg.payload, "announce", m.Announce)
                self.announce_log.append((f"{a.ticket}@{a.gerai}", now, a))
            self.lobby_cond.notify_all()

    def stop(self) -> None:
        if self._console_server is not None:
            self._console_server.should_exit = True  # type: ignore[attr-defined]
            if self._console_thread is not None:
                self._console_thread.join(TIMEOUT)
        if self.lobby_app is not None:
            self.lobby_app.stop()
        self._central_stop.set()
        if self._central_thread is not None:
            self._central_thread.join(TIMEOUT)  # it says goodbye (offline presence) before the broker goes
        for assembly in self.edges.values():
            assembly.close()
        if self.lobby is not None:
            self.lobby.stop()
        if self._broker_loop is not None and self._broker_stop is not None:
            self._broker_loop.call_soon_threadsafe(self._broker_stop.set)
        if self._broker_thread is not None:
            self._broker_thread.join(TIMEOUT)
        if self.store is not None:
            self.store.close()

    # -------------------------------------------------------------- sending

    def send(self, role: str, device: str, cmd: m.AnyCommand, now: float) -> Handled:
        """Press a button on a simulated device and wait for what a real one would get."""
        if isinstance(self.clock, ManualClock):
            self.clock.now = now
        sim = self.devices[(role, device)]
        assert sim.agent is not None
        with sim.cond, self.lobby_cond:
            marks = (len(sim.state_log), len(self.board_log), len(self.announce_log))
        pressed = time.perf_counter()
        sim.agent.send(cmd)
        if not sim.wait(lambda: cmd.id in sim.replies):
            raise RuntimeError(f"no reply to {cmd.id} from the central")
        reply = sim.replies[cmd.id]
        self.latency.reply.append(time.perf_counter() - pressed)
        handled = Handled(reply=reply)
        if isinstance(cmd, m.TakeTicket) and reply.ok and cmd.print and reply.ticket:
            ticket = reply.ticket
            if sim.wait(lambda: ticket in sim.jobs):
                handled.print_jobs.append(sim.jobs[ticket])
        if reply.ok and reply.code in ("called", "recalled") and reply.ticket and role == "gerai":
            self._observe_call(sim, device, reply.ticket, pressed, marks, handled)
        return handled

    def _observe_call(self, sim: AgentRecord, gerai: str, ticket: str, pressed: float,
                      marks: tuple[int, int, int], handled: Handled) -> None:
        """Wait until the display, the board and the lobby have the call; record how long it took."""
        key = f"{ticket}@{gerai}"

        def after(log: list[tuple[str | None, float]] | list[tuple[str, float]], start: int,
                  wanted: str) -> float | None:
            return next((t for k, t in log[start:] if k == wanted), None)

        if sim.wait(lambda: after(sim.state_log, marks[0], ticket) is not None):
            self.latency.display.append(after(sim.state_log, marks[0], ticket) - pressed)  # type: ignore[operator]
        with self.lobby_cond:
            if self.lobby_cond.wait_for(lambda: after(self.board_log, marks[1], key) is not None, TIMEOUT):
                self.latency.board.append(after(self.board_log, marks[1], key) - pressed)  # type: ignore[operator]

            def found() -> tuple[str, float, m.Announce] | None:
                return next((e for e in self.announce_log[marks[2]:] if e[0] == key), None)

            if self.lobby_cond.wait_for(lambda: found() is not None, TIMEOUT):
                entry = found()
                assert entry is not None
                self.latency.announce.append(entry[1] - pressed)
                handled.announcements.append(entry[2])


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(values)}"


def run_headless(config: SiteConfig, out: TextIO, duration: float, day: dt.date | None = None,
                 seed: int = 2023, workdir: Path | None = None, snapshots: Path | None = None) -> int:
    """The scripted morning over MQTT, spread over ``duration`` seconds of wall time."""
    day = day or default_day(config)
    t_open, t_end = morning_window(config, day)
    clock = ManualClock(t_open.timestamp() - 3600)
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # unattended: nobody listens
    with tempfile.TemporaryDirectory(prefix="antre-demo-") as tmp:
        stack = DemoStack(config, workdir or Path(tmp), clock)
        stack.start()
        try:
            out.write(f"antre demo (headless): embedded broker on 127.0.0.1:{stack.port}, central service, "
                      f"{len(stack.devices)} simulated devices on MQTT\n{stack.console_note()}\n")
            pace = _Pacer(duration, t_open.timestamp() - 20 * 60, t_end.timestamp())

            def send(role: str, device: str, cmd: m.AnyCommand, now: float) -> Handled:
                pace.until(now)
                return stack.send(role, device, cmd, now)

            assert stack.service is not None
            script = MorningScript(config, stack.service.engine, send, out, random.Random(seed), t_open, t_end)
            script.run()
            lat = stack.latency
            out.write(
                "\nmeasured through the embedded broker, with broker, central, 15 edge agents and the lobby sharing\n"
                "one Python process (the figures of separate processes are in `make bench`):\n"
                f"  press to reply          {_ms(lat.reply)}\n"
                f"  press to gerai display  {_ms(lat.display)}\n"
                f"  press to lobby board    {_ms(lat.board)}\n"
                f"  press to announcement   {_ms(lat.announce)}\n"
            )
            assert stack.store is not None
            out.write(f"event log: {stack.store.last_seq} events committed durably\n")
            printed = sum(len(a.mock_printer.tickets) for a in stack.edges.values() if a.mock_printer)
            out.write(f"kiosk printers (mock, ESC/POS over a pty): {printed} tickets printed\n")
            if snapshots is not None:
                wait_displays(stack)
                paths = stack.snapshots(snapshots)
                out.write(f"number displays: {len(paths)} PNG snapshots in {snapshots}/\n")
                lobby_png = stack.lobby_snapshot(snapshots / "lobby.png")
                if lobby_png is not None:
                    out.write(f"lobby screen: {lobby_png}\n")
            out.write(f"lobby voice: {stack.voice_summary()}\n")
            if stack.lobby_app is not None and stack.lobby_app.announcer is not None and duration < 600:
                out.write("  (the headless morning runs about "
                          f"{max(1, int((t_end.timestamp() - t_open.timestamp()) / max(duration, 1)))}x faster than "
                          "real time; speech does not: run `antre demo` in a terminal to hear every call)\n")
        finally:
            stack.stop()
    return 0


def wait_displays(stack: DemoStack) -> None:
    """Wait until every gerai display shows the state the central published last."""
    for device, assembly in stack.edges.items():
        sim = stack.devices.get(("gerai", device))
        if sim is None or sim.state is None:
            continue
        target = sim.state
        agent = assembly.agent
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            s = agent.state
            if s is not None and s.rev >= target.rev:
                agent.render()
                break
            stack._central_stop.wait(0.02)


class _Pacer:
    """Spreads a simulated span over a wall-clock duration (0: as fast as possible)."""

    def __init__(self, duration: float, sim_start: float, sim_end: float) -> None:
        self.speed = (sim_end - sim_start) / duration if duration > 0 else 0.0
        self.sim_start = sim_start
        self.wall_start = time.monotonic()
        self._never = threading.Event()

    def until(self, sim_now: float) -> None:
        if self.speed <= 0:
            return
        target = self.wall_start + max(0.0, sim_now - self.sim_start) / self.speed
        delay = target - time.monotonic()
        if delay > 0:
            self._never.wait(delay)  # pacing for the human watching, not a timing fix


HELP = """commands (gerai ids such as g01, services such as ktp-el):
  t SERVICE [elderly|disabled|pregnant|child]   take a ticket at the first kiosk
  c GERAI        call next            r GERAI     recall
  n GERAI        no-show              d GERAI     done
  p GERAI        pause (istirahat)    u GERAI     resume
  x GERAI SERVICE  transfer the held ticket
  b DEVICE [press|double|hold]  press the mock button of a gerai's or kiosk's edge agent
  snap [DIR]     save PNG snapshots of every number display (default var/demo-displays)
  s              show every display and the board
  h              this help            q           quit"""


def run_interactive(config: SiteConfig, inp: TextIO, out: TextIO, workdir: Path | None = None) -> int:
    day = default_day(config)
    t_open, _ = morning_window(config, day)
    clock = RealTimeFrom(t_open.timestamp() + 3600)
    with tempfile.TemporaryDirectory(prefix="antre-demo-") as tmp:
        stack = DemoStack(config, workdir or Path(tmp), clock)
        stack.start()
        lock = threading.Lock()

        def show_state(state: m.GeraiState) -> None:
            with lock:
                out.write(f"  [display {state.name}] {state.ticket or '----'}  {state.status}, "
                          f"{state.waiting} menunggu\n")
                out.flush()

        for sim in stack.devices.values():
            sim.on_state = show_state
        try:
            local = dt.datetime.fromtimestamp(clock(), config.zone)
            out.write(f"antre demo: {config.site.name}, simulated time {local:%A %d %B %Y %H:%M} "
                      f"{config.zone_abbrev()}; broker 127.0.0.1:{stack.port}\n{stack.console_note()}\n"
                      f"lobby: {stack.voice_note}\n{HELP}\n")
            counter = 0
            kiosk = next(iter(config.kiosks), None)
            for line in inp:
                words = shlex.split(line)
                if not words:
                    continue
                verb, args = words[0], words[1:]
                if verb == "q":
                    out.write(f"lobby voice: {stack.voice_summary()}\n")
                    break
                if verb in ("h", "?"):
                    out.write(HELP + "\n")
                    continue
                if verb == "s":
                    _show_all(stack, out)
                    continue
                if verb == "b":
                    gesture = args[1] if len(args) > 1 else "press"
                    if not args or args[0] not in stack.edges or gesture not in ("press", "double", "hold"):
                        out.write("  ? usage: b DEVICE [press|double|hold]\n")
                    else:
                        pressed = stack.devices.get(("gerai", args[0])) or stack.devices.get(("kiosk", args[0]))
                        before = len(pressed.replies) if pressed else 0
                        stack.press(args[0], gesture)
                        if pressed is not None and not pressed.wait(lambda: len(pressed.replies) > before, 3.0):
                            out.write("  (no answer yet)\n")
                        elif pressed is not None:
                            reply = list(pressed.replies.values())[-1]
                            out.write(f"  [{args[0]} button] {'ok' if reply.ok else 'DITOLAK'}: {reply.text_id}\n")
                    continue
                if verb == "snap":
                    directory = Path(args[0]) if args else Path("var/demo-displays")
                    wait_displays(stack)
                    paths = stack.snapshots(directory)
                    stack.lobby_snapshot(directory / "lobby.png")
                    out.write(f"  saved {len(paths)} display snapshots and lobby.png in {directory}/\n")
                    continue
                counter += 1
                cid = f"cli-{counter:06d}-{int(time.time())}"
                try:
                    role, device, cmd = _command(verb, args, cid, kiosk)
                except ValueError as exc:
                    out.write(f"  ? {exc}\n")
                    continue
                if (role, device) not in stack.devices:
                    out.write(f"  ? unknown {role} {device!r}\n")
                    continue
                h = stack.send(role, device, cmd, clock())
                with lock:
                    mark = "ok" if h.reply.ok else "DITOLAK"
                    out.write(f"  [{device}] {mark}: {h.reply.text_id}\n")
                    for job in h.print_jobs:
                        out.write(f"  [printer {device}] {job.ticket} {job.service_name}, {job.ahead} di depan, "
                                  f"perkiraan {job.est_wait_min if job.est_wait_min is not None else '?'} menit\n")
                    for a in h.announcements:
                        out.write(f"  [lobby] \u00ab{speech(a)}\u00bb\n")
        finally:
            stack.stop()
    return 0


def _command(verb: str, args: list[str], cid: str, kiosk: str | None) -> tuple[str, str, m.AnyCommand]:
    simple: dict[str, Callable[[str], m.AnyCommand]] = {
        "c": lambda i: m.CallNext(id=i), "r": lambda i: m.Recall(id=i), "n": lambda i: m.NoShow(id=i),
        "d": lambda i: m.Done(id=i), "p": lambda i: m.Pause(id=i), "u": lambda i: m.Resume(id=i),
    }
    if verb == "t":
        if not args or kiosk is None:
            raise ValueError("usage: t SERVICE [priority]")
        priority = args[1] if len(args) > 1 else m.Priority.REGULAR
        if priority not in m.Priority.__members__.values():
            raise ValueError(f"unknown priority {priority!r}")
        return "kiosk", kiosk, m.TakeTicket(id=cid, service=args[0], priority=priority)  # type: ignore[arg-type]
    if verb == "x":
        if len(args) != 2:
            raise ValueError("usage: x GERAI SERVICE")
        return "gerai", args[0], m.Transfer(id=cid, service=args[1])
    if verb in simple:
        if len(args) != 1:
            raise ValueError(f"usage: {verb} GERAI")
        return "gerai", args[0], simple[verb](cid)
    raise ValueError(f"unknown command {verb!r} (h for help)")


def _show_all(stack: DemoStack, out: TextIO) -> None:
    for (role, device), sim in sorted(stack.devices.items()):
        if role == "gerai":
            s = sim.shown()
            text = "(no state yet)" if s is None else f"{s.ticket or '----'}  {s.status}, {s.waiting} menunggu"
            out.write(f"  {device}: {text}\n")
    board = stack.board
    if board is not None:
        waiting = ", ".join(f"{s.prefix}:{s.waiting}" for s in board.services if s.waiting)
        calls = ", ".join(f"{c.ticket}->{c.gerai_number}" for c in board.calls[-5:])
        out.write(f"  board rev {board.rev}: waiting {waiting or 'none'}; latest calls {calls or 'none'}\n")


def main(config: SiteConfig, headless: bool, duration: float, day: dt.date | None, seed: int,
         snapshots: Path | None = Path("var/demo-displays")) -> int:
    if headless or not sys.stdin.isatty():
        return run_headless(config, sys.stdout, duration, day, seed, snapshots=snapshots)
    return run_interactive(config, sys.stdin, sys.stdout)
