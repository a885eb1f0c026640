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
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.messages import ResultCode
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received, Will
from antre.broker.link.client import mqtt_link
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import Channel, Role, TopicError, Topics, parse
from antre.central.lease import Claim, FencedError, describe, outranks
from antre.central.service import Handled, QueueService
from antre.central.store import StorageError

log = logging.getLogger(__name__)

_RECONNECTED = object()
#: The lobby board is republished at most this often (seconds): under a burst
#: of commands it is coalesced (at most 50 boards a second); at a normal pace every change goes out at once.
BOARD_MIN_INTERVAL = 0.02
#: Service states are recomputed this often even when no command touched them (seconds):
#: a service opens and closes by the clock, and its estimate follows paused gerai.
SERVICE_SWEEP_INTERVAL = 15.0


@dataclass(frozen=True)
class Incoming:
    """A decoded command and the message it came in."""

    role: str
    device: str
    command: m.AnyCommand
    message: Received


@dataclass
class DeviceStatus:
    """What the central knows of a device, for technicians' logs."""

    online: bool | None = None
    printer: str | None = None
    last_health: float | None = None
    #: the contract generation it reads, from its presence (1 when it does not say)
    contract: int = 1


def loose_presence(payload: bytes) -> tuple[bool, int]:
    """(online, contract) from a presence the strict decoder refused: a JSON object's ``online``
    (only ``true`` counts) and ``contract`` (1 unless an integer from 1 to 99); offline for anything
    else (an empty retained message, garbage, a payload over the size limit)."""
    if not payload or len(payload) > m.Presence.max_bytes:
        return False, 1
    try:
        loose = msgspec.json.decode(payload, type=_LoosePresence)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError, ValueError):
        return False, 1
    contract = loose.contract if isinstance(loose.contract, int) and not isinstance(loose.contract, bool) else 1
    return loose.online is True, contract if 1 <= contract <= 99 else 1


class _LoosePresence(msgspec.Struct, forbid_unknown_fields=False):
    online: object = False
    contract: object = 1


class CentralRunner:
    """Connects a :class:`QueueService` to the broker."""

    def __init__(
        self,
        service: QueueService,
        address: BrokerAddress,
        *,
        clock: Callable[[], float] = time.time,
        batch_max: int = 1000,
        claim: Claim | None = None,
        link_factory: LinkFactory = mqtt_link,
    ) -> None:
        self.service = service
        self.config = service.config
        self.topics = Topics(self.config.site_id)
        self.clock = clock
        self.batch_max = batch_max
        if claim is None:  # no probe ran (tests, the demo): a fresh claim of term 1
            service.store.begin_epoch(0)
            claim = Claim.new(self.config.site_id, 1, service.store.path, self.config.central.lease_renew_s)
        self.claim = claim
        self.fenced: str | None = None
        self._lease_topic = self.topics.central_presence()
        self._confirmed = False  # our lease came back from the broker since the last (re)connect
        self._lease_sent = 0.0
        self._held: list[object] = []  # what arrived before the lease was confirmed
        self._pending: list[object] = []
        self.devices: dict[str, DeviceStatus] = {}
        self._bad_reports: dict[str, int] = {}
        self._published: dict[str, bytes] = {}
        self._board_dirty = False
        self._board_sent = 0.0
        #: whether the board is being published (None at start: a previous run's may be retained)
        self._board_served: bool | None = None
        self._swept = time.monotonic()
        #: devices whose presence went online in the batch being processed
        self._came_online: set[tuple[str, str]] = set()
        #: by role: the devices online with contract 1, still served their old topics
        self._contract1: dict[str, set[str]] = {}
        #: published messages by kind, for `make bench` and tests (cumulative)
        self.published: dict[str, int] = {}
        self.published_bytes = 0
        self.ready = threading.Event()
        self.stats = {"commands": 0, "duplicates": 0, "rejected": 0, "quarantined": 0, "batches": 0}
        self.rejected_by_code: dict[str, int] = {}  # payloads refused before the engine, by code
        #: called by the worker thread at every pass of its loop (sd_notify, watchdog, metrics:
        #: see antre.central.ops); a hook must be quick and must not raise
        self.on_pass: list[Callable[[], None]] = []
        offline = codec.encode(self._lease(online=False, ts=None))
        self.link = link_factory(LinkSpec(
            address,
            subscriptions=[
                (self.topics.all_commands(), 1),
                (self.topics.all_presence(), 1),
                (self.topics.all_health(), 0),
                (self._lease_topic, 1),
            ],
            on_message=self._pending.append,
            on_connect=lambda: self._pending.append(_RECONNECTED),
            will=Will(self._lease_topic, offline),
            clean_session=False,  # the broker keeps unacknowledged commands for us across a crash
            manual_ack=True,
        ))

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
        for hook in self.on_pass:
            hook()
        items, self._pending[:] = list(self._pending), []
        for item in items:
            if item is _RECONNECTED:
                # Claim the site on this connection before anything else; what arrives is held
                # until our own lease comes back, so a central that lost the site to another
                # one (it was frozen, say) finds out before it applies or acknowledges anything.
                self._confirmed = False
                self._publish_lease()
                self._held.append(item)
            elif isinstance(item, Received) and item.topic == self._lease_topic:
                self._on_lease(item)
                self.link.ack(item)
            else:
                if isinstance(item, Received) and not item.topic.endswith("/cmd"):
                    # presence and health change no queue state: acknowledged at once, so no broker
                    # ever waits on them while a command is held
                    self.link.ack(item)
                self._held.append(item)
        if not self._confirmed:
            if self._held and time.monotonic() - self._lease_sent > 5.0 and self.link.connected.is_set():
                log.warning("our lease did not come back from the broker within 5 s (%d messages held); "
                            "publishing it again", len(self._held))
                self._publish_lease()
            return
        if self._held:
            held, self._held = self._held, []
            for start in range(0, len(held), self.batch_max):
                self._process(held[start:start + self.batch_max])
        else:
            self._process([])  # time passes: the new day opens at midnight
        if time.monotonic() - self._lease_sent >= self.claim.renew_s and self.link.connected.is_set():
            self._publish_lease()
        if self._board_dirty and time.monotonic() - self._board_sent >= BOARD_MIN_INTERVAL:
            self._publish_board(self.clock(), force=False)
        if time.monotonic() - self._swept >= SERVICE_SWEEP_INTERVAL and self.link.connected.is_set():
            self._swept = time.monotonic()
            try:
                self._publish_services(set(self.config.services), self.clock(), force=False)
            except Exception:
                log.exception("publishing the service states failed")

    def _shutdown(self) -> None:
        final = []
        if self.fenced is None:  # a fenced central leaves the winner's lease alone
            final.append((self._lease_topic, codec.encode(self._lease(online=False, ts=self.clock())), True))
        self.link.close_inline(final=final)
        log.info("antre central stopped: %s", self.stats)

    # ------------------------------------------------------------- the lease

    def _lease(self, *, online: bool, ts: float | None) -> m.CentralLease:
        engine = self.service.engine
        return self.claim.lease(online=online, epoch=self.service.epoch, seq=self.service.store.last_seq, ts=ts,
                                day=engine.day.isoformat() if engine.day else None,
                                issued=sum(st.issued for st in engine.stats.values()))

    def _publish_lease(self) -> None:
        self._lease_sent = time.monotonic()
        self.link.publish(self._lease_topic, codec.encode(self._lease(online=True, ts=self.clock())), qos=1,
                          retain=True)

    def _on_lease(self, item: Received) -> None:
        if not item.payload:
            return  # a cleared retained message
        try:
            lease = codec.decode(item.payload, Channel.PRESENCE)
        except ProtocolError as exc:
            log.warning("ignored an invalid message on %s: %s", self._lease_topic, exc)
            return
        if not isinstance(lease, m.CentralLease):
            log.warning("ignored a %s on %s", m.kind_of(type(lease)), self._lease_topic)
            return
        if lease.instance == self.claim.instance:
            if lease.online:
                if not self._confirmed:
                    log.debug("lease confirmed (term %d)", self.claim.term)
                self._confirmed = True
            elif self.link.connected.is_set():
                self._publish_lease()  # our will, from a connection the broker gave up on
            return
        if outranks(lease, self.claim):
            self.fenced = (f"another antre central took over site {self.config.site_id} (term {lease.term} > "
                           f"{self.claim.term}): {describe(lease)}")
            raise FencedError(self.fenced + "; this central stops without applying anything more")
        if not self._confirmed or not lease.online:
            # the retained lease of a predecessor (delivered on subscribe) or its will: ours follows
            log.debug("superseded lease seen: %s", describe(lease))
            return
        log.warning("a central of an older term claims the site (%s); reclaiming it", describe(lease))
        if self.link.connected.is_set():
            self._publish_lease()

    # ------------------------------------------------------------- the batch

    def _process(self, items: list[object]) -> None:
        now = self.clock()
        reconnected = False
        commands: list[Incoming] = []
        to_ack: list[Received] = []
        for item in items:
            if item is _RECONNECTED:
                reconnected = True
                continue
            assert isinstance(item, Received)
            if item.topic.endswith("/cmd"):
                to_ack.append(item)  # (presence and health were acknowledged when they arrived)
            try:
                self._classify(item, now, commands)
            except StorageError:
                raise
            except Exception as exc:  # a bug met by these bytes: keep them, answer, go on
                self._quarantine(item, exc, now)
        handled = self._apply(commands, now)  # commits, or raises StorageError
        try:
            day = self.service.tick(now)
        except StorageError:
            raise
        except Exception:
            log.exception("opening the new day failed; retrying on the next batch")
            day = None
        touched: set[str] = set()
        services: set[str] = set()
        calls_changed = False
        changed = False
        for h in [*handled, *([day] if day is not None else [])]:
            touched |= h.touched_gerai
            services |= h.touched_services
            calls_changed = calls_changed or h.calls_changed
            changed = changed or bool(h.events)
        came_online, self._came_online = self._came_online, set()
        try:
            # The number displays first: they are what citizens wait for.
            touched |= {device for role, device in came_online if role == Role.GERAI.value}
            touched |= self._contract1_gerai(services)
            self._publish_states(touched, now, force=reconnected)
            self._publish_services(services, now, force=reconnected)
            if calls_changed or reconnected:
                self._publish_calls(now, force=reconnected)
            for incoming, h in zip(commands, handled):
                self._publish_results(incoming.role, incoming.device, h)
            if not self._contract1_lobby_online():
                self._board_dirty = False
                if self._board_served is not False:
                    # no reader of the board is left: its retained copy goes too (a stale one left
                    # on the broker would be the first thing a rolled-back lobby shows)
                    self._board_served = False
                    self._published.pop("\0board", None)
                    self.link.publish(self.topics.board(), b"", qos=1, retain=True)
                    log.info("no contract 1 lobby left: the whole-site board is no longer published")
            elif reconnected or any(role == Role.LOBBY.value for role, _ in came_online):
                self._publish_board(now, force=True)
            elif changed and time.monotonic() - self._board_sent >= BOARD_MIN_INTERVAL:
                self._publish_board(now, force=False)
            elif changed:
                self._board_dirty = True  # coalesced: sent by _drain when the interval has passed
        except Exception:  # what was committed stays committed; the next change or reconnect republishes
            log.exception("publishing the results of a batch failed")
        for message in to_ack:
            self.link.ack(message)
        if commands:
            self.stats["batches"] += 1
        if reconnected and not self.ready.is_set():
            self.ready.set()
            log.info(
                "antre central ready: site %s, %d gerai, %d services, broker %s:%d, log %s (%d events, epoch %d), "
                "lease term %d", self.config.site_id, len(self.config.gerai), len(self.config.services),
                self.link.address.host, self.link.address.port, self.service.store.path,
                self.service.store.last_seq, self.service.epoch, self.claim.term,
            )

    def _apply(self, commands: list[Incoming], now: float) -> list[Handled]:
        """Apply a batch; a command whose handling fails for an unforeseen reason is quarantined.

        The fast path applies the whole batch in one transaction.  If it raises anything but a
        storage error, the engine (which may hold half an application) is rebuilt from the log,
        and the batch is applied one command at a time: each one that fails again is quarantined
        (its topic and bytes kept in the event log's database), answered with ``internal_error``
        and acknowledged, and the engine is rebuilt once more before the next.
        """
        if not commands:
            return []
        try:
            return self.service.handle_batch([(c.role, c.device, c.command) for c in commands], now)
        except StorageError:
            raise
        except Exception:
            log.exception("a batch of %d commands failed; rebuilding the queue state from the log and "
                          "applying them one by one", len(commands))
        self._rebuild(now)
        results: list[Handled] = []
        for c in commands:
            try:
                results.extend(self.service.handle_batch([(c.role, c.device, c.command)], now))
            except StorageError:
                raise
            except Exception as exc:
                self._rebuild(now)
                results.append(self._quarantine(c.message, exc, now))
        return results

    def _rebuild(self, now: float) -> None:
        self.service = QueueService.open(self.config, self.service.store, now, clock_gate=self.service.clock_gate,
                                         ticket_key=self.service.ticket_key)

    def _quarantine(self, msg: Received, exc: BaseException, now: float) -> Handled:
        """Keep the message for inspection (``antre quarantine``) and answer its sender."""
        self.stats["quarantined"] += 1
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        qid = self.service.store.quarantine(now, msg.topic, msg.payload, error)
        log.error("quarantined message %d on %s (%d bytes): %s; see `antre quarantine`", qid, msg.topic,
                  len(msg.payload), error, exc_info=exc)
        reply = m.Reply(
            epoch=self.service.epoch, cmd=codec.answer_id(msg.payload), ok=False, code=ResultCode.INTERNAL_ERROR,
            text_id=f"Perintah tidak dapat diproses; dicatat untuk teknisi (karantina {qid})"[:200],
            text_en=f"the central could not handle this message; kept as quarantine entry {qid}"[:200], ts=now,
        )
        try:
            where = parse(msg.topic)
        except TopicError:
            return Handled(reply=reply)
        if where.channel is Channel.CMD and where.role in (Role.GERAI, Role.KIOSK, Role.CONSOLE) and where.device:
            self.link.publish(self.topics.device(where.role, where.device, Channel.REPLY), codec.encode(reply), qos=1)
        return Handled(reply=reply, duplicate=True)  # nothing more to publish for it

    def _classify(self, msg: Received, now: float, commands: list[Incoming]) -> None:
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
            commands.append(Incoming(role, device, command, msg))
            self.stats["commands"] += 1
        elif where.channel is Channel.PRESENCE:
            self._presence(role, device, msg.payload)
        elif where.channel is Channel.HEALTH:
            self._health(role, device, msg.payload, now)

    def _reject(self, role: str, device: str, payload: bytes, exc: ProtocolError, now: float) -> None:
        """Answer a payload that is not a valid command: with its own id when it can be read,
        else with ``invalid-<sha256 prefix>``, so every payload gets exactly one answer."""
        self.stats["rejected"] += 1
        self.rejected_by_code[exc.code.value] = self.rejected_by_code.get(exc.code.value, 0) + 1
        cmd_id = codec.answer_id(payload)
        log.warning("rejected payload %s from %s/%s (%d bytes): %s", cmd_id, role, device, len(payload),
                    exc.message[:300])
        if role not in (Role.GERAI.value, Role.KIOSK.value, Role.CONSOLE.value):
            return
        reply = m.Reply(
            epoch=self.service.epoch,
            cmd=cmd_id, ok=False, code=exc.code.value,
            text_id=f"Pesan tidak valid ({exc.code.value})"[:200], text_en=exc.message[:200], ts=now,
        )
        self.link.publish(self.topics.device(role, device, Channel.REPLY), codec.encode(reply), qos=1)

    # ------------------------------------------------------------- publishing

    def _send(self, topic: str, message: m.Message, *, retain: bool = False) -> None:
        """Publish ``message``: a retained state (gerai, service, calls, board) at QoS 0, the rest at QoS 1.

        A retained state needs no acknowledgement from the broker: it is republished whole at every
        (re)connect (``force``), a reader that (re)subscribes gets the latest, and a newer state
        supersedes a lost one; what QoS 1 would add is a PUBACK to read for each, from the broker and
        to it from every reader.  Replies, print jobs and announcements stay QoS 1 (they happen once)."""
        payload = codec.encode(message)
        kind = m.kind_of(type(message))
        self.published[kind] = self.published.get(kind, 0) + 1
        self.published_bytes += len(payload)
        self.link.publish(topic, payload, qos=0 if retain else 1, retain=retain)

    def _publish_results(self, role: str, device: str, h: Handled) -> None:
        if h.duplicate:
            self.stats["duplicates"] += 1
        self._send(self.topics.device(role, device, Channel.REPLY), h.reply)
        if h.duplicate:
            return  # print jobs and announcements went out the first time
        if h.print_jobs:
            to_role, to_device = h.print_to or (role, device)
            for job in h.print_jobs:
                self._send(self.topics.device(to_role, to_device, Channel.PRINT), job)
        for announcement in h.announcements:
            self._send(self.topics.announce(), announcement)

    # Contract 1 readers (PROTOCOL.md, "Versions"): a gerai that reads its waiting count from its own
    # state, a lobby that reads the whole board.  They are served for as long as one is online.

    def _contract1_online(self, role: Role) -> set[str]:
        """The devices of ``role`` online with contract 1 (kept by :meth:`_presence`, not searched)."""
        return self._contract1.setdefault(role.value, set())

    def _contract1_gerai(self, services: set[str]) -> set[str]:
        """The online contract 1 gerai that show the waiting count of one of ``services``."""
        if not services:
            return set()
        return {gid for gid in self._contract1_online(Role.GERAI)
                if gid in self.config.gerai and not services.isdisjoint(self.config.gerai[gid].services)}

    def _contract1_lobby_online(self) -> bool:
        """Is a lobby there that may read the board?  A contract 1 lobby publishes no presence:
        a lobby of the site's file that is not online saying it reads contract 2 is taken for one
        (one never upgraded, or one rolled back to the previous release while its presence says offline)."""
        if self._contract1_online(Role.LOBBY):
            return True
        for lobby in self.config.lobbies:
            status = self.devices.get(f"{Role.LOBBY.value}/{lobby}")
            if status is None or not status.online or status.contract < 2:
                return True
        return False

    def _changed(self, key: str, message: m.GeraiState | m.ServiceState | m.Calls | m.Board, force: bool) -> bool:
        """Has ``message`` (rev and ts aside) changed since it was last published under ``key``?"""
        content = codec.encode(msgspec.structs.replace(message, rev=0, ts=0.0))
        if not force and self._published.get(key) == content:
            return False
        self._published[key] = content
        return True

    def _publish_states(self, gerai: set[str], now: float, force: bool) -> None:
        targets = set(self.config.gerai) if force else gerai & self.config.gerai.keys()
        rev = self.service.store.last_seq
        for gid in sorted(targets):
            state = self.service.gerai_state(gid, now, rev)
            if self._changed(gid, state, force):
                self._send(self.topics.gerai(gid, Channel.STATE), state, retain=True)

    def _publish_services(self, services: set[str], now: float, force: bool) -> None:
        targets = set(self.config.services) if force else services & self.config.services.keys()
        rev = self.service.store.last_seq
        for sid in sorted(targets):
            state = self.service.service_state(sid, now, rev)
            if self._changed("\0service/" + sid, state, force):
                self._send(self.topics.service_state(sid), state, retain=True)

    def _publish_calls(self, now: float, force: bool) -> None:
        calls = self.service.calls(now, self.service.store.last_seq)
        if self._changed("\0calls", calls, force):
            self._send(self.topics.calls(), calls, retain=True)

    def _publish_board(self, now: float, force: bool) -> None:
        self._board_dirty = False
        self._board_sent = time.monotonic()
        if len(self.config.gerai) > 500:  # over the contract 1 board's limit: such a site needs contract 2 lobbies
            self._once("board", b"", "no whole-site board for contract 1 lobbies: a contract 1 lobby cannot read "
                       "one of %d gerai (upgrade every lobby to contract 2)", len(self.config.gerai))
            return
        board = self.service.board(now, self.service.store.last_seq)
        self._board_served = True
        if self._changed("\0board", board, force):
            self._send(self.topics.board(), board, retain=True)

    # ---------------------------------------------------- devices' own reports

    def _once(self, key: str, payload: bytes, fmt: str, *args: object) -> None:
        """Log a device's bad report once: a retained one comes back at every (re)subscribe."""
        digest = hash(payload)
        if self._bad_reports.get(key) != digest:
            self._bad_reports[key] = digest
            log.warning(fmt, *args)

    def _presence(self, role: str, device: str, payload: bytes) -> None:
        try:
            presence = codec.decode(payload, Channel.PRESENCE, m.Presence)
            online, contract = presence.online, presence.contract
        except ProtocolError as exc:
            # Not a presence this central can read whole (a newer device's field, a cleared retained
            # message, garbage): what it says of being online and of its contract is still taken, so
            # the device is not served by a status it has left; anything unreadable counts as offline.
            online, contract = loose_presence(payload)
            self._once(f"presence {role}/{device}", payload, "bad presence from %s/%s: %s (taken as %s, "
                       "contract %d)", role, device, exc, "online" if online else "offline", contract)
        contract = min(contract, m.CONTRACT)  # a newer generation is served the newest this central speaks
        status = self.devices.setdefault(f"{role}/{device}", DeviceStatus())
        if status.online != online:
            level = logging.INFO if online else logging.WARNING
            log.log(level, "%s %s is %s", role, device, f"online (contract {contract})" if online else "OFFLINE")
        if online and (not status.online or status.contract != contract):
            # its retained state may be older than what it reads now (a contract 1 gerai's waiting count)
            self._came_online.add((role, device))
        status.online = online
        status.contract = contract
        readers = self._contract1.setdefault(role, set())
        if online and contract < 2:
            readers.add(device)
        else:
            readers.discard(device)

    def _health(self, role: str, device: str, payload: bytes, now: float) -> None:
        try:
            health = codec.decode(payload, Channel.HEALTH, m.Health)
        except ProtocolError as exc:
            self._once(f"health {role}/{device}", payload, "bad health report from %s/%s: %s", role, device, exc)
            return
        status = self.devices.setdefault(f"{role}/{device}", DeviceStatus())
        if health.printer != status.printer and health.printer in m.PRINTER_FAULTS:
            log.warning("printer of %s %s: %s", role, device, health.printer)
        elif health.printer != status.printer and status.printer is not None:
            log.info("printer of %s %s: %s", role, device, health.printer)
        status.printer = health.printer
        status.last_health = now
