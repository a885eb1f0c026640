"""The antre wire contract v1, as a MicroPython node speaks it (see broker/PROTOCOL.md).

Only what a gerai node sends and reads: topics, command payloads with unique
ids, ping, presence and health, and the fields of the state and replies it acts on.

Times of the central's clock are kept as **integer milliseconds**, never as
floats: MicroPython on the ESP32 and the RP2040 has single-precision floats,
whose step near 1.7e9 is 128 s, so ``json.loads`` of a pong's ``ts`` (or
``json.dumps`` of a press time) would be off by up to a minute and every press
would be refused as ``stale`` or ``clock_skew``.  :func:`number_ms` reads a
time from the payload's text with integer arithmetic and :func:`ms_text`
writes one back the same way.
"""

import json

VERSION = 1
ACTIONS = ("call_next", "recall", "no_show", "done", "pause", "resume", "pause_toggle", "take_ticket")


def topic(site, gerai, channel):
    return "antre/v1/" + site + "/gerai/" + gerai + "/" + channel


class CommandIds:
    """Command ids unique per device across reboots: ``<device>-<board><nonce>-<counter>``.

    ``board``: hex of the board's ``machine.unique_id()`` (tells two boards with the
    same gerai id apart: a replacement unit); ``nonce``: hex of ``os.urandom(4)`` at
    boot (a reboot never repeats the ids of the boot before: the central remembers
    ids for 48 hours and answers a repeated one with its old reply).  Not
    ``ticks_ms()``: it is nearly the same after every reset."""

    def __init__(self, device, board, nonce):
        self.prefix = device + "-" + board[-8:] + nonce + "-"
        self.counter = 0

    def next(self):
        self.counter += 1
        return "%s%06d" % (self.prefix, self.counter)


def hexlify(data):
    return "".join("%02x" % b for b in data)


def ms_text(ms):
    """Integer milliseconds as the JSON number of seconds, exactly: 1700198100123 -> '1700198100.123'."""
    if ms < 0:
        return "-" + ms_text(-ms)
    return "%d.%03d" % (ms // 1000, ms % 1000)


def number_ms(payload, key):
    """The number under ``key`` (bytes, e.g. b'"ts"') of a flat JSON object ``payload`` (bytes),
    as integer milliseconds (rounded), read from the text with integer arithmetic only;
    None when absent, null or not a number."""
    n = len(payload)
    i = payload.find(key)
    while True:
        if i < 0:
            return None
        i += len(key)
        while i < n and payload[i] in b" \t\r\n":
            i += 1
        if i < n and payload[i] == 58:  # ':' (a key, not a string value that happens to match)
            break
        i = payload.find(key, i)
    i += 1
    while i < n and payload[i] in b" \t\r\n":
        i += 1
    sign = 1
    if i < n and payload[i] == 45:  # '-'
        sign = -1
        i += 1
    digits = 0  # all significant digits as one integer
    scale = 0  # power of ten to apply to ``digits``
    seen = False
    while i < n and 48 <= payload[i] <= 57:
        digits = digits * 10 + payload[i] - 48
        i += 1
        seen = True
    if i < n and payload[i] == 46:  # '.'
        i += 1
        while i < n and 48 <= payload[i] <= 57:
            digits = digits * 10 + payload[i] - 48
            scale -= 1
            i += 1
            seen = True
    if not seen:
        return None
    if i < n and payload[i] in b"eE":
        i += 1
        esign = 1
        if i < n and payload[i] in b"+-":
            esign = -1 if payload[i] == 45 else 1
            i += 1
        e = 0
        while i < n and 48 <= payload[i] <= 57:
            e = e * 10 + payload[i] - 48
            i += 1
        scale += esign * e
    scale += 3  # seconds to milliseconds
    if scale >= 0:
        return sign * digits * 10 ** scale
    div = 10 ** -scale
    return sign * ((digits + div // 2) // div)


def _ts(ts_ms):
    return "null" if ts_ms is None else ms_text(ts_ms)


def command(action, cmd_id, ts_ms=None, service=None, priority="regular", reason=None):
    """The JSON payload of a command (bytes); ``ts_ms``: the press on the central's clock, in ms."""
    if action not in ACTIONS or action == "pause_toggle":
        raise ValueError("unknown action " + action)
    extra = ""
    if action == "take_ticket":
        if not service:
            raise ValueError("take_ticket needs a service")
        # a MicroPython node has no printer: the number is issued by hand
        extra = ',"service":' + json.dumps(service) + ',"priority":' + json.dumps(priority) + ',"print":false'
    elif action == "pause" and reason:
        extra = ',"reason":' + json.dumps(reason)
    return ('{"kind":"' + action + '","v":1,"id":"' + cmd_id + '","ts":' + _ts(ts_ms) + extra + "}").encode()


def ping(cmd_id, ts_ms=None):
    return ('{"kind":"ping","v":1,"id":"' + cmd_id + '","ts":' + _ts(ts_ms) + "}").encode()


def presence(device, online, version, ts_ms=None):
    return ('{"kind":"presence","v":1,"role":"gerai","device":"' + device + '","online":'
            + ("true" if online else "false") + ',"version":' + json.dumps(version)
            + ',"ts":' + _ts(ts_ms) + "}").encode()


def health(device, version, uptime_s, ts_ms, display_ok, buttons_ok, faults=(), rssi=None, free_heap=None,
           reset_cause=None, ip=None):
    """The health report; ``faults``: short texts for the technician (at most 16); ``rssi`` (dBm),
    ``free_heap`` (bytes), ``reset_cause`` (a word) and ``ip`` (the node's address) when known."""
    extra = ""
    if isinstance(ip, str) and ip != "0.0.0.0" and 2 <= len(ip) <= 45 and all(c in "0123456789abcdefABCDEF:." for c in ip):
        extra += ',"ip":"' + ip + '"'
    if isinstance(rssi, int) and -127 <= rssi <= 0:
        extra += ',"rssi_dbm":' + str(rssi)
    if isinstance(free_heap, int) and free_heap >= 0:
        extra += ',"free_heap_bytes":' + str(free_heap)
    if reset_cause:
        extra += ',"reset_cause":' + json.dumps(str(reset_cause)[:40])
    return ('{"kind":"health","v":1,"role":"gerai","device":"' + device + '","version":' + json.dumps(version)
            + ',"uptime_s":' + str(int(uptime_s)) + ',"ts":' + _ts(ts_ms)
            + ',"display":"' + ("ok" if display_ok else "fault") + '","buttons":"'
            + ("ok" if buttons_ok else "fault") + '","faults":' + json.dumps([f[:200] for f in faults][:16])
            + extra + "}").encode()


def _load(payload, kind):
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeError):
        return None
    if not isinstance(msg, dict) or msg.get("v") != VERSION or msg.get("kind") != kind:
        return None
    return msg


def _epoch(msg):
    epoch = msg.get("epoch", 0)  # a central older than the epoch rule sends none
    # a log's start in ms since 1970, before 2100: an absurd one would blind the node to the real central
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 <= epoch <= 4102444800000 else None


def parse_state(payload):
    """(ticket or None, waiting, status, rev, epoch) from a gerai_state payload; None if it is not one."""
    msg = _load(payload, "gerai_state")
    if msg is None:
        return None
    ticket = msg.get("ticket")
    waiting = msg.get("waiting")
    rev = msg.get("rev")
    epoch = _epoch(msg)
    if not isinstance(waiting, int) or not isinstance(rev, int) or epoch is None:
        return None
    if ticket is not None and not isinstance(ticket, str):
        return None
    status = msg.get("status", "idle")
    return ticket, waiting, status if isinstance(status, str) else "idle", rev, epoch


def parse_reply(payload):
    """(cmd, ok, code, epoch, ts_ms) from a reply payload; None if it is not one.

    ``ts_ms`` is read from the text (see the module docstring), not from the float json gives."""
    msg = _load(payload, "reply")
    if msg is None:
        return None
    cmd, ok, code, epoch = msg.get("cmd"), msg.get("ok"), msg.get("code"), _epoch(msg)
    if not isinstance(cmd, str) or not isinstance(ok, bool) or not isinstance(code, str) or epoch is None:
        return None
    return cmd, ok, code, epoch, number_ms(payload, b'"ts"')
