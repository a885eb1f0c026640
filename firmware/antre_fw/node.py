"""The gerai node's main loop: Wi-Fi, MQTT, buttons, display, watchdog.

Hardware and network come in as objects, so the same loop runs on a board
(``main.py`` passes machine/network/umqtt) and under CPython in tests (fakes
and a paho-backed client with umqtt.simple's interface).

* Buttons: pin interrupts only record (time, level) edges; the loop feeds them
  to the gesture detectors, so no allocation happens in an interrupt.
* Wi-Fi and MQTT reconnect with exponential backoff, without rebooting.
* A press while offline is refused on the display ("OFF"), never queued.
* The watchdog is fed on every loop; a hung node restarts itself.
"""

import json

from antre_fw import backoff, gestures, protocol, segments

ERR_CONFIG = "E1"  # missing or invalid config.json
ERR_WIFI = "E2"


def validate_config(cfg):
    """Return a list of problems (empty when the config is usable)."""
    problems = []
    if not isinstance(cfg, dict):
        return ["config is not a JSON object"]
    for key in ("site", "gerai", "wifi_ssid", "broker_host", "password"):
        if not isinstance(cfg.get(key), str) or not cfg.get(key):
            problems.append("missing " + key)
    if not isinstance(cfg.get("broker_port", 1883), int):
        problems.append("broker_port must be a number")
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
    return problems


class Node:
    def __init__(self, cfg, wlan, mqtt_factory, display, buttons, ticks_ms, wdt=None, random=None, version="0.1.0",
                 disable_irq=None, enable_irq=None):
        """``buttons``: list of (pin object, spec dict); ``display.show(text)``; ``ticks_ms()`` a clock;
        ``disable_irq``/``enable_irq``: machine's, to take the interrupts' edge list atomically."""
        self.cfg = cfg
        self.wlan = wlan
        self.mqtt_factory = mqtt_factory
        self.display = display
        self.ticks_ms = ticks_ms
        self.wdt = wdt
        self.random = random or (lambda: 0.5)
        self.version = version
        self.site, self.gerai = cfg["site"], cfg["gerai"]
        self.ids = protocol.CommandIds(self.gerai, cfg.get("boot_id", "%08x" % int(ticks_ms())))
        self.client = None
        self.online = False
        self.state = None  # (ticket, waiting, status, rev)
        self.backoff = backoff.Backoff()
        self.next_attempt = 0
        self.edges = []  # (button index, level, t): appended by interrupts
        self.buttons = []
        self.sent = []  # command ids published (for tests and diagnostics)
        self.refused = 0
        self.started = ticks_ms()
        self.disable_irq = disable_irq or (lambda: None)
        self.enable_irq = enable_irq or (lambda state: None)
        for i, (pin, spec) in enumerate(buttons):
            det = gestures.Detector(double_enabled=spec.get("double", "none") != "none")
            self.buttons.append((pin, spec, det))
            pin.irq(handler=self._irq(i))
        self.digits = cfg.get("digits", 4)
        self.show()

    def _irq(self, index):
        def handler(pin):
            # pull-up wiring: a pressed button reads 0
            self.edges.append((index, pin.value() == 0, self.ticks_ms()))
        return handler

    # ----------------------------------------------------------- display

    def show(self):
        if self.state is None:
            text = segments.display_text(None, 0, "idle", self.digits, self.online)
        else:
            ticket, waiting, status, _ = self.state
            text = segments.display_text(ticket, waiting, status, self.digits, self.online)
        self.display.show(text)

    # ------------------------------------------------------------ network

    def connect(self, now):
        if now < self.next_attempt:
            return False
        try:
            if not self.wlan.isconnected():
                self.wlan.active(True)
                self.wlan.connect(self.cfg["wifi_ssid"], self.cfg.get("wifi_password", ""))
                if not self.wlan.isconnected():
                    raise OSError("wifi not connected yet")
            client = self.mqtt_factory(
                "antre-node-" + self.gerai, self.cfg["broker_host"], self.cfg.get("broker_port", 1883),
                "gerai." + self.gerai, self.cfg["password"])
            client.set_last_will(protocol.topic(self.site, self.gerai, "presence"),
                                 protocol.presence(self.gerai, False, self.version), True, 1)
            client.set_callback(self._message)
            client.connect()
            client.subscribe(protocol.topic(self.site, self.gerai, "state"), 1)
            client.subscribe(protocol.topic(self.site, self.gerai, "reply"), 1)
            client.publish(protocol.topic(self.site, self.gerai, "presence"),
                           protocol.presence(self.gerai, True, self.version), True, 1)
        except OSError:
            self.online = False
            self.next_attempt = now + self.backoff.next_delay(self.random())
            self.show()
            return False
        self.client = client
        self.online = True
        self.backoff.reset()
        self.show()
        return True

    def _message(self, topic, payload):
        if isinstance(topic, bytes):
            topic = topic.decode()
        if topic.endswith("/state"):
            state = protocol.parse_state(payload)
            if state is not None and (self.state is None or state[3] >= self.state[3]):
                self.state = state
                self.show()

    def _lost(self, now):
        self.online = False
        self.client = None
        self.next_attempt = now + self.backoff.next_delay(self.random())
        self.show()

    # --------------------------------------------------------------- loop

    def step(self):
        """One pass of the main loop; call it forever (the board's main.py does)."""
        now = self.ticks_ms()
        if self.wdt is not None:
            self.wdt.feed()
        # Buttons first, with the times their interrupts recorded: a network call below may
        # block (a connect attempt), and must not turn a short press into a "hold".
        state = self.disable_irq()  # an interrupt between the read and the reset would lose an edge
        edges, self.edges = self.edges, []
        self.enable_irq(state)
        for index, level, t in edges:
            for gesture in self.buttons[index][2].edge(level, t):
                self._act(index, gesture, now)
        for index in range(len(self.buttons)):
            for gesture in self.buttons[index][2].poll(now):
                self._act(index, gesture, now)
        if not self.online:
            self.connect(now)
        elif self.client is not None:
            try:
                self.client.check_msg()
            except OSError:
                self._lost(now)

    def _act(self, index, gesture, now):
        spec = self.buttons[index][1]
        action = spec.get(gesture, "none")
        if action == "none":
            return
        if not self.online or self.client is None:
            self.refused += 1
            self.display.show("OFF")  # refused at once, never queued
            return
        cmd_id = self.ids.next()
        payload = protocol.command(action, cmd_id, service=self.cfg.get("service"))
        try:
            self.client.publish(protocol.topic(self.site, self.gerai, "cmd"), payload, False, 1)
            self.sent.append(cmd_id)
        except OSError:
            self.refused += 1
            self._lost(now)


def load_config(text):
    """(config, problems) from the text of config.json."""
    try:
        cfg = json.loads(text)
    except ValueError:
        return None, ["config.json is not valid JSON"]
    problems = validate_config(cfg)
    return (cfg if not problems else None), problems
