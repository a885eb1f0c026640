"""Test vectors for the firmware's pure logic, run unchanged on MicroPython and CPython.

Prints one JSON object; tests/test_firmware.py compares the two interpreters' output
and checks the messages against broker/'s schemas.  On MicroPython it also measures
the heap one press-to-command cycle allocates (gc.mem_alloc).
"""

import gc
import json
import sys

from antre_fw import backoff, drivers, gestures, node, protocol, segments

out = {"implementation": sys.implementation.name, "version": sys.version}

ids = protocol.CommandIds("g05", "a1b2c3d4")
out["commands"] = [
    protocol.command("call_next", ids.next(), ts=1700198100).decode(),
    protocol.command("recall", ids.next()).decode(),
    protocol.command("no_show", ids.next()).decode(),
    protocol.command("done", ids.next()).decode(),
    protocol.command("pause", ids.next(), reason="sholat Jumat").decode(),
    protocol.command("resume", ids.next()).decode(),
    protocol.command("take_ticket", ids.next(), service="ktp-el", priority="elderly").decode(),
]
out["presence"] = protocol.presence("g05", False, "0.1.0").decode()
out["health"] = protocol.health("g05", "0.1.0", 12.5, 1700198100, True, False).decode()
out["topic"] = protocol.topic("kupang", "g05", "cmd")
state = ('{"kind":"gerai_state","v":1,"gerai":"g05","number":5,"name":"Gerai 5","status":"serving",'
         '"ticket":"A012","waiting":7,"rev":42,"ts":1700198100.0}')
out["state"] = protocol.parse_state(state)
out["bad_states"] = [protocol.parse_state(p) for p in ("{", "[]", '{"v":2,"kind":"gerai_state"}',
                                                      '{"v":1,"kind":"gerai_state","waiting":"7","rev":1}')]

d = gestures.Detector()
seq = []
for t, p in ((0, True), (5, False), (10, True), (200, False), (300, None), (560, None),
             (1000, True), (1100, False), (1200, True), (1300, False), (3000, True), (4300, None), (5000, False)):
    seq.append(d.poll(t) if p is None else d.edge(p, t))
out["gestures"] = seq
out["bounces"] = d.bounces

out["segments"] = {k: segments.SEGMENTS[k] for k in sorted(segments.SEGMENTS)}
out["encoded"] = [segments.encode("A012", 4), segments.encode(segments.display_text("A012", 7, "serving", 8, True), 8),
                  segments.encode("8.", 4), segments.encode(segments.display_text(None, 0, "idle", 4, False), 4)]

out["tm1637_a"] = drivers._tm1637_order(segments.SEGMENTS["A"])
out["config_problems"] = node.validate_config({"site": "kupang", "gerai": "g05", "buttons": [{"pin": 14,
                                                                                       "press": "fly"}]})
out["config_ok"] = node.validate_config({"site": "kupang", "gerai": "g05", "wifi_ssid": "mpp", "broker_host": "10.0.0.2",
                                         "password": "x" * 20, "buttons": [{"pin": 14, "press": "call_next"}]})
b = backoff.Backoff()
out["backoff"] = [b.next_delay(0.5) for _ in range(8)]
b.reset()
out["backoff_reset"] = b.next_delay(0.0)

# the node's main loop with the fake machine, network and umqtt modules
import machine
import network
from umqtt.simple import MQTTClient


class Display:
    def __init__(self):
        self.shown = []

    def show(self, text):
        self.shown.append(text)


clock = [1000]
cfg = {"site": "kupang", "gerai": "g05", "wifi_ssid": "mpp", "broker_host": "10.0.0.2", "password": "x" * 20,
       "buttons": [{"pin": 14, "press": "call_next"}], "digits": 4, "boot_id": "cafe0001"}
pin = machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
disp = Display()
wdt = machine.WDT()
n = node.Node(cfg, network.WLAN(network.STA_IF),
              lambda cid, host, port, user, pw: MQTTClient(cid, host, port, user, pw),
              disp, [(pin, cfg["buttons"][0])], lambda: clock[0], wdt,
              disable_irq=machine.disable_irq, enable_irq=machine.enable_irq)
n.step()
client = MQTTClient.instances[-1]
client.incoming.append((b"antre/v1/kupang/gerai/g05/state",
                        b'{"kind":"gerai_state","v":1,"ticket":null,"waiting":2,"status":"idle","rev":3}'))
clock[0] += 10
n.step()
shown_idle = disp.shown[-1]
pin.drive(0)
clock[0] += 100
pin.drive(1)
clock[0] += 10
n.step()
client.incoming.append((b"antre/v1/kupang/gerai/g05/state",
                        b'{"kind":"gerai_state","v":1,"ticket":"A001","waiting":1,"status":"serving","rev":4}'))
clock[0] += 10
n.step()
out["loop"] = {
    "will": [client.will[0], client.will[1].decode(), client.will[2], client.will[3]],
    "subscribed": client.subscribed,
    "published": [[t, p.decode(), r, q] for t, p, r, q in client.published],
    "shown": [shown_idle, disp.shown[-1]],
    "wdt_feeds": wdt.feeds,
}

# heap of one press-to-command cycle: a gesture, an id, the payload
if hasattr(gc, "mem_alloc"):
    det = gestures.Detector(double_enabled=False)
    gc.collect()
    before = gc.mem_alloc()
    gs = det.edge(True, 10000) + det.edge(False, 10100)
    payload = protocol.command("call_next", ids.next(), ts=1700198200)
    out["press_cycle_heap_bytes"] = gc.mem_alloc() - before
    out["press_cycle_gestures"] = gs
print(json.dumps(out))
