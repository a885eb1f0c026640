"""The gerai node's main loop: Wi-Fi, MQTT, buttons, display, health, watchdog.

Hardware and network come in as objects (:class:`Platform`, the Wi-Fi
interface, an umqtt.simple client factory, the display, the button pins), so
the same loop runs on a board (``main.py`` passes machine, network and umqtt)
and under CPython in tests (fakes, or the real umqtt.simple over real sockets).

The rules are the Pi edge agent's (edge/agent.py), on MicroPython:

* **Never blocks past its budget.**  Every socket operation has a timeout
  (:mod:`antre_fw.link`); the connect sequence feeds the watchdog after each step
  that completed; otherwise the watchdog is fed once per completed pass of the
  loop, never from an interrupt or a timer, so a loop that stops making
  progress is reset by the hardware.
* **Stays online.**  A PINGREQ every half keepalive; no byte received for a
  whole keepalive means a frozen link: the socket is closed, the display shows
  ``OFF`` and the node reconnects with backoff.
* **A press is sent once, kept, resent.**  Stamped with the central's clock
  (ping/pong, :mod:`antre_fw.linkclock`), published at QoS 1 without waiting
  for the PUBACK, kept until its reply and resent with the same id every second
  and at once after a reconnect, until the press deadline (5 s); then ``E9``.
  A press while offline shows ``OFF`` and is never sent later; one before the
  central's clock is known shows ``E8``.
* **Replies and state honoured.**  Refusals show a short code (``r1``..``r9``);
  states and replies of an older epoch are ignored, a newer epoch is taken
  whatever its ``rev``.
* **Errors are codes, not resets** (``E2``..``E7``, see :data:`CODES`), with
  backoff and retry; the Wi-Fi is asked to connect once and then watched, never
  re-asked while it is still associating.
* Buttons: a hard pin interrupt writes (time, level) into preallocated ring
  buffers (no allocation, the level read first); the loop feeds the gesture
  detectors.
"""

import json

from antre_fw import backoff, gestures, link as mlink, linkclock, outbox, protocol, segments

ERR_CONFIG = "E1"  # missing or invalid config.json
ERR_WIFI = "E2"  # Wi-Fi network not found, or joining it failed / timed out
ERR_WIFI_AUTH = "E3"  # Wi-Fi password refused
ERR_NO_IP = "E4"  # joined the Wi-Fi, but no IP address (DHCP)
ERR_BROKER = "E5"  # broker not reachable (refused, unreachable, no answer)
ERR_AUTH = "E6"  # broker refused the gerai's identity or password
ERR_REFUSED = "E7"  # broker refused for another reason (protocol, subscription)
ERR_NO_CLOCK = "E8"  # press refused: the central has not answered a ping yet
ERR_NO_ANSWER = "E9"  # press sent, no reply within the deadline
NOT_SENT = "OFF"  # press refused: not connected (never sent later)

CODES = {
    ERR_CONFIG: "config.json missing or invalid",
    ERR_WIFI: "Wi-Fi network not found or joining failed",
    ERR_WIFI_AUTH: "Wi-Fi password refused",
    ERR_NO_IP: "Wi-Fi joined but no IP address (DHCP)",
    ERR_BROKER: "broker not reachable",
    ERR_AUTH: "broker refused the identity or password",
    ERR_REFUSED: "broker refused the connection or subscription",
    ERR_NO_CLOCK: "central has not answered a ping yet: press not sent",
    ERR_NO_ANSWER: "press sent, no reply within the deadline",
}

#: refusal codes of the central (reply ``code``) as shown on the display for a few seconds
REFUSALS = {
    "queue_empty": "r1",
    "stale": "r2", "clock_skew": "r3",
    "gerai_paused": "r4", "on_break": "r4", "before_hours": "r4", "after_hours": "r4",
    "after_cutoff": "r4", "holiday": "r4", "closed_today": "r4", "quota_exhausted": "r4",
    "gerai_busy": "r5", "no_current": "r5",
    "not_allowed": "r6", "unknown_device": "r6", "unknown_service": "r6", "service_not_offered": "r6",
    "double_press": "r7",  # a second call_next within the central's call guard: nobody else was called
}
REFUSED_OTHER = "r9"

KEEPALIVE_S = 6  # MQTT keepalive; PINGREQ every half of it
CONNECT_TIMEOUT_S = 3  # TCP connect, and then the CONNACK
IO_TIMEOUT_S = 2  # any read or write once connected
PING_INTERVAL_MS = 30000  # clock sync (contract: at every connect and every 30 s)
UNSYNCED_PING_MS = 3000  # ... every 3 s until the first pong
DEADLINE_MS = 5000  # the press deadline (the central's command_deadline_s)
HEALTH_MS = 60000
NOTICE_MS = 3000
WIFI_TIMEOUT_MS = 20000
ALTERNATE_MS = 1000  # a number too long for the display: prefix and sequence in turn
RING = 32  # button edges between two passes of the loop
WEAK_RSSI_DBM = -75
LOW_HEAP_BYTES = 16384
MAX_POLL = 8  # packets handled per pass


def _is_ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True


def validate_config(cfg):
    """Return a list of problems (empty when the config is usable)."""
    problems = []
    if not isinstance(cfg, dict):
        return ["config is not a JSON object"]
    for key in ("site", "gerai", "wifi_ssid", "broker_host", "password"):
        if not isinstance(cfg.get(key), str) or not cfg.get(key):
            problems.append("missing " + key)
    host = cfg.get("broker_host")
    if isinstance(host, str) and host and not _is_ipv4(host):
        problems.append("broker_host must be an IPv4 address (a DNS lookup on the board can block "
                        "past the watchdog)")
    if not isinstance(cfg.get("broker_port", 1883), int):
        problems.append("broker_port must be a number")
    keepalive = cfg.get("keepalive", KEEPALIVE_S)
    if not isinstance(keepalive, int) or not 2 <= keepalive <= 60:
        problems.append("keepalive must be 2-60 seconds")
    health = cfg.get("health_interval_s", HEALTH_MS // 1000)
    if not isinstance(health, int) or not 1 <= health <= 3600:
        problems.append("health_interval_s must be 1-3600 seconds")
    buttons = cfg.get("buttons", [])
    if not isinstance(buttons, list) or not buttons:
        problems.append("no buttons")
    else:
        for b in buttons:
            if not isinstance(b, dict) or not isinstance(b.get("pin"), int):
                problems.append("a button needs a pin number")
            for g in ("press", "double", "hold"):
                action = b.get(g, "none") if isinstance(b, dict) else "none"
                if action != "none" and action not in protocol.ACTIONS:
                    problems.append("unknown action " + str(action))
                if action == "take_ticket" and not cfg.get("service"):
                    problems.append("take_ticket needs a service")
    return problems


def load_config(text):
    """(config, problems) from the text of config.json."""
    try:
        cfg = json.loads(text)
    except ValueError:
        return None, ["config.json is not valid JSON"]
    problems = validate_config(cfg)
    return (cfg if not problems else None), problems


def _diff(a, b):
    return a - b


def _add(a, b):
    return a + b


class Platform:
    """What the node needs of the board, as plain values and callables.

    ``ticks_ms``/``ticks_diff``/``ticks_add``: MicroPython's wrapping millisecond clock;
    ``urandom(n)``: random bytes (the boot nonce of command ids); ``unique_id``:
    ``machine.unique_id()``; ``wdt``: ``machine.WDT`` or None; ``reset_cause``:
    a word (``"watchdog"``, ``"power_on"``...); ``mem_free()``: free heap bytes;
    ``wifi_codes``: ``wlan.status()`` values that are failures -> error code."""

    def __init__(self, ticks_ms, urandom, ticks_diff=None, ticks_add=None, unique_id=b"", wdt=None,
                 reset_cause="", mem_free=None, wifi_codes=None):
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff or _diff
        self.ticks_add = ticks_add or _add
        self.urandom = urandom
        self.unique_id = unique_id
        self.wdt = wdt
        self.reset_cause = reset_cause
        self.mem_free = mem_free
        self.wifi_codes = wifi_codes or {}


class Node:
    def __init__(self, cfg, wlan, mqtt_factory, display, buttons, platform, version="0.1.0"):
        """``buttons``: list of (pin, spec dict); ``display.show(text)``;
        ``mqtt_factory(client_id, host, port, user, password, keepalive)``: an umqtt.simple MQTTClient."""
        self.cfg = cfg
        self.wlan = wlan
        self.mqtt_factory = mqtt_factory
        self.display = display
        self.p = platform
        self.ticks_ms = platform.ticks_ms
        self.ticks_diff = platform.ticks_diff
        self.ticks_add = platform.ticks_add
        self.version = version
        self.site, self.gerai = cfg["site"], cfg["gerai"]
        self.user = "gerai." + self.gerai  # the client id is the username (PROTOCOL.md, Identities)
        self.keepalive_ms = cfg.get("keepalive", KEEPALIVE_S) * 1000
        self.ids = protocol.CommandIds(self.gerai, protocol.hexlify(platform.unique_id),
                                       protocol.hexlify(platform.urandom(4)))
        self.t_cmd = protocol.topic(self.site, self.gerai, "cmd").encode()
        self.t_state = protocol.topic(self.site, self.gerai, "state").encode()
        self.t_reply = protocol.topic(self.site, self.gerai, "reply").encode()
        self.t_presence = protocol.topic(self.site, self.gerai, "presence").encode()
        self.t_health = protocol.topic(self.site, self.gerai, "health").encode()
        self.clock = linkclock.LinkClock(self.ticks_diff)
        self.outbox = outbox.Outbox(self.ticks_diff)
        self.backoff = backoff.Backoff()
        self.link = None
        self.state = None  # (ticket, waiting, status, rev, epoch)
        self.epoch = 0  # the newest epoch (event log) seen from the central
        self.fault = None  # the code of the last failed connection attempt (shown while offline)
        self.notice = None  # (text, until ticks): a refusal or failure, for a few seconds
        self.display_ok = True
        now = self.ticks_ms()
        self.next_attempt = now
        self.wifi_since = None
        self.last_rx = self.last_pingreq = self.next_ping = self.next_health = now
        self.rx_seen = 0
        self.last_tick = now
        self.up_s = 0
        self.up_ms = 0
        self.shown = None
        self.dirty = True
        self.phase = 0
        self.phase_at = now
        # counters, for health and tests
        self.sent = []  # the last command ids sent
        self.refused = 0  # presses refused on the display (offline, no clock)
        self.no_answer = 0
        self.answered = 0
        self.connects = 0
        self.lost = 0
        self.old_epoch = 0  # states and replies ignored for an older epoch
        self.iterations = 0
        self.feeds = 0
        # buttons: interrupts write into preallocated rings, the loop reads them
        self.ev_t = [0] * RING
        self.ev_b = bytearray(RING)
        self.ev_head = 0
        self.ev_tail = 0
        self.ev_lost = 0
        self.buttons = []
        for i, (pin, spec) in enumerate(buttons):
            det = gestures.Detector(double_enabled=spec.get("double", "none") != "none",
                                    hold_enabled=spec.get("hold", "none") != "none", diff=self.ticks_diff)
            self.buttons.append((pin, spec, det))
            pin.irq(handler=self._irq(i, pin), trigger=pin.IRQ_FALLING | pin.IRQ_RISING, hard=True)
        self.digits = getattr(display, "digits", cfg.get("digits", 4))
        self._render(now)

    # ------------------------------------------------------------ buttons

    def _irq(self, index, pin):
        ticks_ms = self.ticks_ms

        def handler(_):
            # hard interrupt: no allocation; the level first, as close to the edge as it gets
            pressed = 0x80 if pin.value() == 0 else 0  # pull-up wiring: pressed reads 0
            t = ticks_ms()
            h = self.ev_head
            nxt = (h + 1) % RING
            if nxt == self.ev_tail:
                self.ev_lost += 1
                return
            self.ev_t[h] = t
            self.ev_b[h] = index | pressed
            self.ev_head = nxt  # last: the loop never reads a half-written slot

        return handler

    def _buttons(self, now):
        tail = self.ev_tail
        while tail != self.ev_head:
            b, t = self.ev_b[tail], self.ev_t[tail]
            tail = (tail + 1) % RING
            self.ev_tail = tail
            index = b & 0x7F
            for gesture in self.buttons[index][2].edge(bool(b & 0x80), t):
                self._act(index, gesture, now)
        for index in range(len(self.buttons)):
            pin, _, det = self.buttons[index]
            # the pin read now: a change is accepted only when the pin still shows it, and a lost
            # edge (an interrupt missed, a full ring) never leaves a phantom press or hold
            for gesture in det.poll(now, pin.value() == 0):
                self._act(index, gesture, now)

    def _act(self, index, gesture, now):
        spec = self.buttons[index][1]
        action = spec.get(gesture, "none")
        if action == "none":
            return
        if action == "pause_toggle":
            action = "resume" if self.state is not None and self.state[2] == "paused" else "pause"
        if self.link is None:
            self.refused += 1
            self._notify(NOT_SENT, now)  # refused at once, never queued
            return
        pressed = self.clock.now_ms(now)
        if pressed is None:
            self.refused += 1
            self._notify(ERR_NO_CLOCK, now)
            return
        cmd_id = self.ids.next()
        payload = protocol.command(action, cmd_id, pressed, service=self.cfg.get("service"))
        self.outbox.add(cmd_id, payload, action, now, DEADLINE_MS, True)
        if len(self.sent) >= 32:
            self.sent.pop(0)
        self.sent.append(cmd_id)
        self._send(self.t_cmd, payload, 1, False, now)

    # ------------------------------------------------------------ display

    def _notify(self, text, now):
        self.notice = (text, now)
        self.dirty = True

    def _text(self, now):
        if self.notice is not None:
            return self.notice[0]
        if self.link is None:
            return self.fault or NOT_SENT
        if self.state is None:
            return segments.display_text(None, 0, None, self.digits, True)
        ticket, waiting, status = self.state[0], self.state[1], self.state[2]
        return segments.display_text(ticket, waiting, status, self.digits, True, self.phase)

    def _render(self, now):
        if self.notice is not None and self.ticks_diff(now, self.notice[1]) >= NOTICE_MS:
            self.notice = None
            self.dirty = True
        if self.state is not None and segments.frames(self.state[0], self.digits) > 1 and \
                self.ticks_diff(now, self.phase_at) >= ALTERNATE_MS:
            self.phase ^= 1
            self.phase_at = now
            self.dirty = True
        if not self.dirty:
            return
        self.dirty = False
        text = self._text(now)
        if text == self.shown:
            return
        try:
            self.display.show(text)
            self.shown = text
        except Exception as exc:  # a broken display must not stop the node
            print("antre: display:", exc)
            self.display_ok = False

    # ------------------------------------------------------------ network

    def _feed(self):
        """The loop made progress: feed the watchdog."""
        self.feeds += 1
        if self.p.wdt is not None:
            self.p.wdt.feed()

    def _fail(self, code, now):
        if code != self.fault:
            print("antre:", code, CODES.get(code, ""))
        self.fault = code
        self.next_attempt = self.ticks_add(now, self.backoff.next_delay(self._jitter()))
        self.dirty = True

    def _jitter(self):
        return self.p.urandom(1)[0] / 256

    def _wifi(self, now):
        if self.wifi_since is None:
            try:
                self.wlan.active(True)
                self.wlan.connect(self.cfg["wifi_ssid"], self.cfg.get("wifi_password", ""))
            except Exception as exc:  # e.g. an ESP32 still reconnecting by itself: watch it anyway
                print("antre: wifi connect:", exc)
            self.wifi_since = now
            return
        try:
            status = self.wlan.status()
        except Exception:
            status = None
        code = self.p.wifi_codes.get(status)
        waited = self.ticks_diff(now, self.wifi_since)
        if waited < WIFI_TIMEOUT_MS and code != ERR_WIFI and code != ERR_WIFI_AUTH:
            return  # still associating (or waiting for DHCP): never ask again meanwhile
        self._fail(code or ERR_WIFI, now)
        self.wifi_since = None
        try:
            self.wlan.disconnect()
        except Exception:
            pass

    def _connect(self, now):
        if self.ticks_diff(now, self.next_attempt) < 0:
            return
        if not self.wlan.isconnected():
            self._wifi(now)
            return
        self.wifi_since = None
        cfg = self.cfg
        client = self.mqtt_factory(self.user, cfg["broker_host"], cfg.get("broker_port", 1883), self.user,
                                   cfg["password"], self.keepalive_ms // 1000)
        client.set_callback(self._message)
        client.set_last_will(self.t_presence, protocol.presence(self.gerai, False, self.version), True, 1)
        link = mlink.Link(client, IO_TIMEOUT_S)
        try:
            link.open(CONNECT_TIMEOUT_S, (self.t_state, self.t_reply), self._feed)
            link.publish(self.t_presence, protocol.presence(self.gerai, True, self.version,
                                                            self.clock.now_ms(now)), True, 1)
        except Exception as exc:
            link.close()
            kind, detail = mlink.classify(exc)
            print("antre: connect failed:", kind, detail)
            self._fail(ERR_AUTH if kind == "auth" else ERR_REFUSED if kind == "refused" else ERR_BROKER, now)
            return
        now = self.ticks_ms()
        self.link = link
        self.fault = None
        self.connects += 1
        self.backoff.reset()
        self.last_rx = self.last_pingreq = now
        self.rx_seen = link.rx
        self.dirty = True
        self._ping(now)  # sync the clock at every connect
        for p in self.outbox.due(now, True):  # and resend at once what is unanswered
            if not self._send(self.t_cmd, p.payload, 1, False, now):
                return

    def _send(self, topic, payload, qos, retain, now):
        """Publish on the current link; a failure closes it (True when written)."""
        link = self.link
        if link is None:
            return False
        try:
            link.publish(topic, payload, retain, qos)
            return True
        except Exception as exc:
            self._lose(now, exc)
            return False

    def _ping(self, now):
        cmd_id = self.ids.next()
        self.clock.ping_sent(cmd_id, now)
        self.next_ping = self.ticks_add(now, PING_INTERVAL_MS if self.clock.synced else UNSYNCED_PING_MS)
        self._send(self.t_cmd, protocol.ping(cmd_id, self.clock.now_ms(now)), 0, False, now)

    def recover(self, exc):
        """After a pass that raised (a bug): close the link; the next passes reconnect."""
        self._lose(self.ticks_ms(), exc)

    def _lose(self, now, why):
        link, self.link = self.link, None
        if link is not None:
            link.close()
            self.lost += 1
            print("antre: link lost:", why)
        self.next_attempt = self.ticks_add(now, self.backoff.next_delay(self._jitter()))
        self.dirty = True

    def _service(self, now):
        link = self.link
        if link is None:
            return
        try:
            link.poll(MAX_POLL)
        except Exception as exc:
            self._lose(now, exc)
            return
        if self.link is None:
            return
        now = self.ticks_ms()
        rx = link.rx
        if rx != self.rx_seen:
            self.rx_seen = rx
            self.last_rx = now
        if self.ticks_diff(now, self.last_rx) >= self.keepalive_ms:
            self._lose(now, "nothing received for a keepalive: frozen link")
            return
        if self.ticks_diff(now, self.last_pingreq) >= self.keepalive_ms // 2:
            self.last_pingreq = now
            try:
                link.ping()
            except Exception as exc:
                self._lose(now, exc)
                return
        if self.ticks_diff(now, self.next_ping) >= 0:
            self._ping(now)
        for p in self.outbox.due(now):
            if not self._send(self.t_cmd, p.payload, 1, False, now):
                return
        if self.ticks_diff(now, self.next_health) >= 0 and self.clock.synced:
            self.next_health = self.ticks_add(now, self.cfg.get("health_interval_s", HEALTH_MS // 1000) * 1000)
            self._send(self.t_health, self.health(now), 0, False, now)

    # ------------------------------------------------------------ messages

    def _epoch_ok(self, epoch):
        """The epoch rule: remember the newest epoch; never act on an older one."""
        if epoch >= self.epoch:
            self.epoch = epoch
            return True
        self.old_epoch += 1
        return False

    def _message(self, topic, payload):
        # called by umqtt.simple from inside check_msg: parse and record, no I/O
        now = self.ticks_ms()
        if topic == self.t_state:
            state = protocol.parse_state(payload)
            if state is None or not self._epoch_ok(state[4]):
                return
            old = self.state
            if old is None or state[4] > old[4] or state[3] >= old[3]:
                self.state = state
                self.dirty = True
        elif topic == self.t_reply:
            reply = protocol.parse_reply(payload)
            if reply is None:
                return
            cmd, ok, code, epoch, ts_ms = reply
            if code == "pong":
                self._epoch_ok(epoch)
                if self.clock.pong(cmd, ts_ms, now):
                    self.next_ping = self.ticks_add(now, PING_INTERVAL_MS)
                return
            if not self._epoch_ok(epoch):
                return
            if self.outbox.settle(cmd) is None:
                return  # not waiting for it (an answer to a resend, or after the deadline)
            self.answered += 1
            if not ok or code == "queue_empty":
                self._notify(REFUSALS.get(code, REFUSED_OTHER), now)

    # ------------------------------------------------------------ health

    def faults(self):
        out = []
        if self.p.reset_cause == "watchdog":
            out.append("reset: watchdog (the last boot ended in a hang)")
        try:
            rssi = self.wlan.status("rssi")
        except Exception:
            rssi = None
        if isinstance(rssi, int) and rssi < WEAK_RSSI_DBM:
            out.append("wifi: weak signal %d dBm" % rssi)
        if self.p.mem_free is not None:
            free = self.p.mem_free()
            if free < LOW_HEAP_BYTES:
                out.append("heap: only %d bytes free" % free)
        if not self.display_ok:
            out.append("display: write failed")
        nacks = getattr(self.display, "nacks", 0)
        if nacks:
            out.append("display: %d bytes not acknowledged (check the TM1637 wiring)" % nacks)
        if self.ev_lost:
            out.append("buttons: %d edges lost" % self.ev_lost)
        return out

    def health(self, now):
        display_ok = self.display_ok and not getattr(self.display, "nacks", 0)
        try:
            rssi = self.wlan.status("rssi")
        except Exception:
            rssi = None
        free = self.p.mem_free() if self.p.mem_free is not None else None
        try:
            ip = self.wlan.ifconfig()[0]
        except Exception:
            ip = None
        return protocol.health(self.gerai, self.version, self.up_s, self.clock.now_ms(now), display_ok,
                               self.ev_lost == 0, self.faults(), rssi if isinstance(rssi, int) else None, free,
                               self.p.reset_cause or None, ip)

    # --------------------------------------------------------------- loop

    def _uptime(self, now):
        self.up_ms += self.ticks_diff(now, self.last_tick)
        self.last_tick = now
        if self.up_ms >= 1000:
            s = self.up_ms // 1000
            self.up_s += s
            self.up_ms -= s * 1000

    def _expire(self, now):
        for _ in self.outbox.expired(now):
            self.no_answer += 1
            self._notify(ERR_NO_ANSWER, now)

    def step(self):
        """One pass of the main loop; call it forever (the board's main.py does)."""
        now = self.ticks_ms()
        self._uptime(now)
        # buttons first, with the times their interrupts recorded: a connect attempt below
        # may take up to its timeout, and must not turn a short press into a hold
        self._buttons(now)
        if self.link is None:
            self._connect(now)
        else:
            self._service(now)
        now = self.ticks_ms()
        self._expire(now)
        self._render(now)
        self.iterations += 1
        self._feed()
