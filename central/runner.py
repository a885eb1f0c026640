"""The central service on MQTT: ``antre central --config SITE.toml``.

One network thread (paho's) receives messages and queues them; one worker
thread (the caller of :meth:`CentralRunner.run`) owns the queue state:

1. it drains the inbox in batches (group commit: many commands, one fsync);
2. decodes and validates every payload; a malformed one is logged and, when
   its command id can be read, answered with a typed error;
3. applies the batch through :class:`~central.service.QueueService` and
   commits it to the event log;
4. only then publishes the replies, print jobs, announcements, the retained
   state of every gerai whose display changed and the retained lobby board;
5. and only then acknowledges the MQTT messages (manual PUBACK), so a command
   the central did not commit is redelivered by the broker after a crash.

On every (re)connect it republishes its retained presence, every gerai state
and the board, so every display converges to the truth.  A storage failure
stops the service (exit status 3) without acknowledging anything.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from antre import __version__
from broker import codec
from broker import messages as m
from broker.client import BrokerAddress, MqttLink, Received, Will
from broker.codec import ProtocolError
from broker.topics import Channel, Role, TopicError, Topics, parse
from central.service import Handled, QueueService

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
_RECONNECTED = object()
#: The lobby board is republished at most this often (seconds): under a burst
#: of commands it is coalesced (at most 50 boards a second); at a normal pace every change goes out at once.
BOARD_MIN_INTERVAL = 0.02
_DOWN_STATUSES = frozenset({"paper_out", "cover_open", "offline", "unknown", "error"})


@dataclass
class DeviceStatus:
    """What the central knows of a device, for technicians' logs."""

    online: bool | None = None
    printer: str | None = None
    last_health: float | None = None


class CentralRunner:
    """Connects a :class:`QueueService` to the broker."""

    def __init__(
        self,
        service: QueueService,
        address: BrokerAddress,
        *,
        clock: Callable[[], float] = time.time,
        batch_max: int = 1000,
    ) -> None:
        self.service = service
        self.config = service.config
        self.topics = Topics(self.config.site_id)
        self.clock = clock
        self.batch_max = batch_max
        self._pending: list[object] = []
        self.devices: dict[str, DeviceStatus] = {}
        self._published: dict[str, bytes] = {}
        self._board_dirty = False
        self._board_sent = 0.0
        self.ready = threading.Event()
        self.stats = {"commands": 0, "duplicates": 0, "rejected": 0, "batches": 0}
        offline = codec.encode(m.Presence(role="central", device=self.config.site_id, online=False,
                                          version=__version__))
        self.link = MqttLink(
            address,
            client_id=f"antre-central-{self.config.site_id}",
            subscriptions=[
                (self.topics.all_commands(), 1),
                (self.topics.all_presence(), 1),
                (self.topics.all_health(), 0),
            ],
            on_message=self._pending.append,
            on_connect=lambda: self._pending.append(_RECONNECTED),
            will=Will(self.topics.central_presence(), offline),
            clean_session=False,  # the broker keeps unacknowledged commands for us across a crash
            manual_ack=True,
        )

    # -------------------------------------------------------------- lifecycle

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; raises StorageError on a storage failure.

        One thread does everything: read what arrived, apply it as one batch,
        commit, publish, acknowledge (see :meth:`MqttLink.run_inline`).
        """
        try:
            self.link.run_inline(stop, self._drain, poll=0.05)
        finally:
            self._shutdown()

    def _drain(self) -> None:
        items, self._pending[:] = list(self._pending), []
        for start in range(0, max(1, len(items)), self.batch_max):
            self._process(items[start:start + self.batch_max])
        if self._board_dirty and time.monotonic() - self._board_sent >= BOARD_MIN_INTERVAL:
            self._publish_board(self.clock(), force=False)

    def _shutdown(self) -> None:
        offline = codec.encode(
            m.Presence(role="central", device=self.config.site_id, online=False, version=__version__, ts=self.clock())
        )
        self.link.close_inline(final=[(self.topics.central_presence(), offline, True)])
        log.info("antre central stopped: %s", self.stats)

    # ------------------------------------------------------------- the batch

    def _process(self, items: list[object]) -> None:
        now = self.clock()
        reconnected = False
        commands: list[tuple[str, str, m.AnyCommand]] = []
        to_ack: list[Received] = []
        for item in items:
            if item is _RECONNECTED:
                reconnected = True
                continue
            assert isinstance(item, Received)
            to_ack.append(item)
            self._classify(item, now, commands)
        handled = self.service.handle_batch(commands, now) if commands else []  # commits, or raises
        day = self.service.tick(now)
        touched: set[str] = set()
        changed = False
        for h in handled:
            touched |= h.touched_gerai
            changed = changed or bool(h.events)
        if day is not None:
            touched |= day.touched_gerai
            changed = True
        if reconnected:
            self._announce_presence(now)
        # The number displays first: they are what citizens wait for.
        self._publish_states(touched, now, force=reconnected)
        for (role, device, _), h in zip(commands, handled):
            self._publish_results(role, device, h)
        if reconnected or (changed and time.monotonic() - self._board_sent >= BOARD_MIN_INTERVAL):
            self._publish_board(now, force=reconnected)
        elif changed:
            self._board_dirty = True  # coalesced: sent by _drain when the interval has passed
        for message in to_ack:
            self.link.ack(message)
        if commands:
            self.stats["batches"] += 1
        if reconnected and not self.ready.is_set():
            self.ready.set()
            log.info(
                "antre central ready: site %s, %d gerai, %d services, broker %s:%d, log %s (%d events)",
                self.config.site_id, len(self.config.gerai), len(self.config.services),
                self.link.address.host, self.link.address.port, self.service.store.path,
                self.service.store.last_seq,
            )

    def _classify(self, msg: Received, now: float, commands: list[tuple[str, str, m.AnyCommand]]) -> None:
        try:
            where = parse(msg.topic)
        except TopicError as exc:
            log.warning("ignored message on a foreign topic: %s", exc)
            return
        if where.site != self.config.site_id or where.role is None or where.device is None:
            return
        role, device = where.role.value, where.device
        if where.channel is Channel.CMD:
            try:
                command = codec.decode_command(msg.payload)
            except ProtocolError as exc:
                self._reject(role, device, msg.payload, exc, now)
                return
            commands.append((role, device, command))
            self.stats["commands"] += 1
        elif where.channel is Channel.PRESENCE:
            self._presence(role, device, msg.payload)
        elif where.channel is Channel.HEALTH:
            self._health(role, device, msg.payload, now)

    def _reject(self, role: str, device: str, payload: bytes, exc: ProtocolError, now: float) -> None:
        self.stats["rejected"] += 1
        log.warning("rejected payload from %s/%s: %s", role, device, exc)
        cmd_id = _readable_id(payload)
        if cmd_id is None or role not in (Role.GERAI.value, Role.KIOSK.value):
            return
        reply = m.Reply(
            cmd=cmd_id, ok=False, code=exc.code.value,
            text_id=f"Pesan tidak valid ({exc.code.value})"[:200], text_en=exc.message[:200], ts=now,
        )
        self.link.publish(self.topics.device(role, device, Channel.REPLY), codec.encode(reply), qos=1)

    # ------------------------------------------------------------- publishing

    def _publish_results(self, role: str, device: str, h: Handled) -> None:
        if h.duplicate:
            self.stats["duplicates"] += 1
        self.link.publish(self.topics.device(role, device, Channel.REPLY), codec.encode(h.reply), qos=1)
        if h.duplicate:
            return  # print jobs and announcements went out the first time
        for job in h.print_jobs:
            self.link.publish(self.topics.device(role, device, Channel.PRINT), codec.encode(job), qos=1)
        for announcement in h.announcements:
            self.link.publish(self.topics.announce(), codec.encode(announcement), qos=1)

    def _publish_states(self, gerai: set[str], now: float, force: bool) -> None:
        targets = set(self.config.gerai) if force else gerai
        rev = self.service.store.last_seq
        for gid in sorted(targets):
            state = self.service.gerai_state(gid, now, rev)
            key = codec.encode(msgspec.structs.replace(state, rev=0, ts=0.0))
            if not force and self._published.get(gid) == key:
                continue
            self._published[gid] = key
            self.link.publish(self.topics.gerai(gid, Channel.STATE), codec.encode(state), qos=1, retain=True)

    def _publish_board(self, now: float, force: bool) -> None:
        self._board_dirty = False
        self._board_sent = time.monotonic()
        board = self.service.board(now, self.service.store.last_seq)
        key = codec.encode(msgspec.structs.replace(board, rev=0, ts=0.0))
        if not force and self._published.get("\0board") == key:
            return
        self._published["\0board"] = key
        self.link.publish(self.topics.board(), codec.encode(board), qos=1, retain=True)

    def _announce_presence(self, now: float) -> None:
        online = m.Presence(role="central", device=self.config.site_id, online=True, version=__version__, ts=now)
        self.link.publish(self.topics.central_presence(), codec.encode(online), qos=1, retain=True)

    # ---------------------------------------------------- devices' own reports

    def _presence(self, role: str, device: str, payload: bytes) -> None:
        try:
            presence = codec.decode(payload, Channel.PRESENCE, m.Presence)
        except ProtocolError as exc:
            log.warning("bad presence from %s/%s: %s", role, device, exc)
            return
        status = self.devices.setdefault(f"{role}/{device}", DeviceStatus())
        if status.online != presence.online:
            level = logging.INFO if presence.online else logging.WARNING
            log.log(level, "%s %s is %s", role, device, "online" if presence.online else "OFFLINE")
        status.online = presence.online

    def _health(self, role: str, device: str, payload: bytes, now: float) -> None:
        try:
            health = codec.decode(payload, Channel.HEALTH, m.Health)
        except ProtocolError as exc:
            log.warning("bad health report from %s/%s: %s", role, device, exc)
            return
        status = self.devices.setdefault(f"{role}/{device}", DeviceStatus())
        if health.printer != status.printer and health.printer in _DOWN_STATUSES:
            log.warning("printer of %s %s: %s", role, device, health.printer)
        elif health.printer != status.printer and status.printer is not None:
            log.info("printer of %s %s: %s", role, device, health.printer)
        status.printer = health.printer
        status.last_health = now


def _readable_id(payload: bytes) -> str | None:
    """The command id of a rejected payload, when it can be read at all."""
    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and _ID_RE.match(value) else None
