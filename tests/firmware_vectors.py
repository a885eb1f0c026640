"""Test vectors for the firmware's pure logic, run unchanged on MicroPython and CPython.

Prints one JSON object; tests/test_firmware.py compares the two interpreters' output
and checks the messages against broker/'s schemas.  The node's main loop runs here on
the real umqtt.simple (tests/vendor) over a scripted socket (tests/mpy_fakes/socket.py).
On MicroPython it also measures the heap (gc.mem_alloc, the fake broker's own share taken
out): per idle pass, per keepalive pass, per press cycle (interrupt to reply and state
shown), the largest pass; and it checks with micropython.heap_lock() that the button
interrupt and an SSD1306 refresh allocate nothing.
"""

import gc
import json
import sys

from antre_fw import backoff, drivers, gestures, node, protocol, segments

out = {"implementation": sys.implementation.name, "version": sys.version}

ids = protocol.CommandIds("g05", "a1b2c3d4", "0badf00d")
out["commands"] = [
    protocol.command("call_next", ids.next(), ts_ms=1700198100123).decode(),
    protocol.command("recall", ids.next()).decode(),
    protocol.command("no_show", ids.next()).decode(),
    protocol.command("done", ids.next()).decode(),
    protocol.command("pause", ids.next(), reason="sholat Jumat").decode(),
    protocol.command("resume", ids.next()).decode(),
    protocol.command("take_ticket", ids.next(), service="ktp-el", priority="elderly").decode(),
]
out["ping"] = protocol.ping(ids.next(), 1700198100000).decode()
out["presence"] = protocol.presence("g05", False, "0.1.0").decode()
out["health"] = protocol.health("g05", "0.1.0", 12.5, 1700198100000, True, False, ["reset: watchdog"]).decode()
out["topic"] = protocol.topic("kupang", "g05", "cmd")
state = ('{"kind":"gerai_state","v":1,"epoch":1700190000000,"gerai":"g05","number":5,"name":"Gerai 5",'
         '"status":"serving","ticket":"A012","waiting":7,"rev":42,"ts":1700198100.0}')
out["state"] = protocol.parse_state(state)
out["bad_states"] = [protocol.parse_state(p) for p in ("{", "[]", '{"v":2,"kind":"gerai_state"}',
                                                      '{"v":1,"kind":"gerai_state","waiting":"7","rev":1}')]
pong = (b'{"kind":"reply","v":1,"epoch":1700190000000,"cmd":"g05-x-000001","ok":true,"code":"pong",'
        b'"text_id":"ts","text_en":"pong","ticket":null,"ts":1700198100.123456}')
out["pong"] = protocol.parse_reply(pong)
out["ms"] = [protocol.number_ms(b'{"ts": 1.7001981001235e9}', b'"ts"'), protocol.number_ms(b'{"ts":null}', b'"ts"'),
             protocol.ms_text(1700198100123), protocol.ms_text(7)]



def run_gesture_case(case, timing):
    """One case of tests/vectors/gestures.json: [[t, gesture], ...] and the bounce count.
    Between steps the detector is polled at every deadline it announces (see the file's "about")."""
    d = gestures.Detector(timing["debounce_ms"], timing["double_ms"], timing["hold_ms"],
                          case.get("double", True), case.get("hold", True))
    got = []
    now = None
    for t, kind, level in case["steps"]:
        if case.get("deadlines", True) and now is not None:
            for _ in range(100):
                due = d.next_due(now)
                if due is None or now + max(due, 0) > t:
                    break
                now = now + max(due, 0)
                for g in d.poll(now):
                    got.append([now, g])
        if kind == "edge":
            found = d.edge(level == 1, t)
        else:
            found = d.poll(t, None if level is None else level == 1)
        for g in found:
            got.append([t, g])
        now = t
    return got, d.bounces


def load_gesture_vectors():
    try:
        f = open("/fw/gestures.json")  # MicroPython: tests/vectors copied into its file system
    except OSError:
        import os.path
        f = open(os.path.join(os.path.dirname(__file__), "vectors", "gestures.json"))
    try:
        return json.loads(f.read())
    finally:
        f.close()


_vectors = load_gesture_vectors()
out["gesture_vectors"] = [run_gesture_case(c, _vectors["timing"]) for c in _vectors["cases"]]

out["segments"] = {k: segments.SEGMENTS[k] for k in sorted(segments.SEGMENTS)}
out["encoded"] = [segments.encode("A012", 4), segments.encode(segments.display_text("A012", 7, "serving", 8, True), 8),
                  segments.encode("8.", 4), segments.encode(segments.display_text(None, 0, "idle", 4, False), 4)]
out["two_letter"] = [segments.display_text("AB012", 7, "serving", 4, True),
                      segments.display_text("AB012", 7, "serving", 8, True),
                      segments.display_text("AB123", 7, "serving", 4, True, 0),
                      segments.display_text("AB123", 7, "serving", 4, True, 1)]

out["words"] = [[status, ticket, waiting, digits, phase,
                 segments.display_text(ticket if status == "serving" else None, waiting, status, digits, True, phase)]
                for status in ("serving", "idle", "paused", "closed", None)
                for ticket in (None, "A7", "A012", "AB012", "AB123", "A1234")
                for waiting in (0, 7, 123)
                for digits in (4, 8)
                for phase in (0, 1)]
out["tm1637_a"] = drivers._tm1637_order(segments.SEGMENTS["A"])
out["config_problems"] = node.validate_config({"site": "kupang", "gerai": "g05", "buttons": [{"pin": 14,
                                                                                       "press": "fly"}]})
out["config_ok"] = node.validate_config({"site": "kupang", "gerai": "g05", "wifi_ssid": "mpp", "broker_host": "10.0.0.2",
                                         "password": "x" * 20, "buttons": [{"pin": 14, "press": "call_next"}]})
b = backoff.Backoff()
out["backoff"] = [b.next_delay(0.5) for _ in range(8)]
b.reset()
out["backoff_reset"] = b.next_delay(0.0)


# ------------------------------------------------------------------------------------------
# the node's main loop: fake machine and network, the real umqtt.simple over a scripted socket
import machine
import network
import socket as fakesock
from umqtt.simple import MQTTClient

Broker = fakesock.Broker
MEASURE = hasattr(gc, "mem_alloc")


class Display:
    digits = 8

    def __init__(self):
        self.shown = []

    def show(self, text):
        self.shown.append(text)


EPOCH = 1700190000000
STATE = ('{"kind":"gerai_state","v":1,"epoch":%d,"gerai":"g05","number":5,"name":"Gerai 5","agency":"Dukcapil",'
         '"status":"%s","ticket":%s,"ticket_id":null,"service":null,"priority":null,"recalls":0,"called_at":null,'
         '"waiting":%d,"note":"","rev":%d,"ts":1700198100.0}')


def state(ticket, waiting, rev, epoch=EPOCH):
    t = "null" if ticket is None else '"' + ticket + '"'
    return (STATE % (epoch, "idle" if ticket is None else "serving", t, waiting, rev)).encode()


called = [0]


def answer(cmd):
    if cmd["kind"] != "call_next":
        return []
    called[0] += 1
    ticket = "A%03d" % called[0]
    reply = ('{"kind":"reply","v":1,"epoch":%d,"cmd":"%s","ok":true,"code":"called","text_id":"Memanggil %s",'
             '"text_en":"Calling %s","ticket":"%s","ts":1700198101.5}' % (EPOCH, cmd["id"], ticket, ticket, ticket))
    return [("reply", reply.encode()), ("state", state(ticket, 40 - called[0], 3 + called[0]))]


clock = [1000]
nonce = [0]


def ticks_ms():
    return clock[0]


def urandom(n):
    nonce[0] += 1
    return bytes([(nonce[0] * 37 + i * 11) & 255 for i in range(n)])


Broker.reset()
Broker.state = state(None, 40, 3)
Broker.answer = answer
cfg = {"site": "kupang", "gerai": "g05", "wifi_ssid": "mpp", "broker_host": "10.0.0.2", "password": "x" * 20,
       "buttons": [{"pin": 14, "press": "call_next"}], "keepalive": 6, "health_interval_s": 3600}
pin = machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
disp = Display()
wdt = machine.WDT()
platform = node.Platform(ticks_ms, urandom, unique_id=machine.unique_id(), wdt=wdt, reset_cause="power_on",
                         mem_free=getattr(gc, "mem_free", None))
n = node.Node(cfg, network.WLAN(network.STA_IF),
              lambda cid, host, port, user, pw, ka: MQTTClient(cid, host, port, user, pw, keepalive=ka),
              disp, [(pin, cfg["buttons"][0])], platform)


def step(ms=10):
    n.step()
    clock[0] += ms


for _ in range(5):
    step()
shown_idle = disp.shown[-1]
synced = n.clock.synced
pin.drive(0)
clock[0] += 100
pin.drive(1)
for _ in range(3):
    step()
cmds = [p for p in Broker.published if p[0].endswith("/cmd") and b'"ping"' not in p[1]]
out["loop"] = {
    "connects": Broker.connects,
    "subscribed": Broker.sockets[0].subscribed,
    "published": [[t, p.decode(), q, r] for t, p, q, r in Broker.published],
    "shown": [shown_idle, disp.shown[-1]],
    "synced": synced,
    "wdt_feeds": wdt.feeds,
    "answered": n.answered,
    "pending": len(n.outbox),
    "irq_hard": pin.hard,
}
c = n.link.client
out["loop"]["will"] = [c.lw_topic.decode(), c.lw_msg.decode(), c.lw_retain, c.lw_qos]
out["loop"]["client_id"] = c.client_id

# ---- heap, on MicroPython only
if MEASURE:
    import micropython

    def measured(fn):
        gc.collect()
        gc.disable()
        own, before = Broker.own_alloc, gc.mem_alloc()
        fn()
        used = gc.mem_alloc() - before - (Broker.own_alloc - own)
        gc.enable()
        return used

    step()
    step()
    idle = [measured(step) for _ in range(20)]
    clock[0] += n.keepalive_ms // 2
    keepalive = measured(step)  # PINGREQ out, PINGRESP in
    step()
    passes = []

    def press_cycle():
        pin.drive(0)
        clock[0] += 100
        pin.drive(1)
        for _ in range(3):
            passes.append(measured(step))

    cycles = []
    for _ in range(5):
        before_answered = n.answered
        passes = []
        press_cycle()
        assert n.answered == before_answered + 1, ("press not answered", disp.shown[-3:])
        cycles.append(sum(passes))
    # the interrupt handler allocates nothing (a hard interrupt must not)
    irq_ok = True
    try:
        micropython.heap_lock()
        pin.drive(0)
        pin.drive(1)
    except MemoryError:
        irq_ok = False
    finally:
        micropython.heap_unlock()
    out["heap"] = {"idle_pass_max": max(idle), "keepalive_pass": keepalive, "press_cycles": cycles,
                   "largest_pass": max(max(idle), keepalive, max(passes)), "irq_no_alloc": irq_ok}

    # SSD1306: the whole number, and nothing allocated per refresh
    try:
        import framebuf
    except ImportError:
        framebuf = None
    if framebuf is not None:
        class I2C:
            def __init__(self):
                self.last = None
                self.writes = 0

            def writeto(self, addr, buf):
                self.last = buf
                self.writes += 1

        i2c = I2C()
        oled = drivers.SSD1306Text(i2c)
        oled.show("A001   0")  # warm up (qstrs of the characters)
        ok = True
        try:
            micropython.heap_lock()
            oled.show("AB012  7")
        except MemoryError:
            ok = False
        finally:
            micropython.heap_unlock()
        frame = bytes(i2c.last)
        fb = framebuf.FrameBuffer(bytearray(frame[1:]), 128, 64, framebuf.MONO_VLSB)
        ref_buf = bytearray(128)
        ref = framebuf.FrameBuffer(ref_buf, 128, 8, framebuf.MONO_VLSB)
        ref.text("AB012", 0, 0, 1)
        scale, x0 = 3, (128 - 5 * 8 * 3) // 2
        same = all(bool(ref.pixel(x, y)) == bool(fb.pixel(x0 + x * scale + 1, 2 + y * scale + 1))
                   for x in range(40) for y in range(8))
        ref.fill(0)
        ref.text("7", 0, 0, 1)
        waiting = all(bool(ref.pixel(x, y)) == bool(fb.pixel(128 - 16 + x * 2, 48 + y * 2))
                      for x in range(8) for y in range(8))
        out["ssd1306"] = {"no_alloc": ok, "number_drawn": same, "waiting_drawn": waiting, "first_byte": frame[0],
                          "length": len(frame)}
# the epoch rule: an older epoch is ignored, a newer one taken whatever its rev
n._message(n.t_state, state("A009", 1, 99, EPOCH - 1))
older = n.state[0]
n._message(n.t_state, state("B001", 5, 1, EPOCH + 1))
newer = n.state[0]
out["epoch_rule"] = [older, newer, n.old_epoch]

print(json.dumps(out))
