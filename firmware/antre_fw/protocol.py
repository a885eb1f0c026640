"""The antre wire contract v1, as a MicroPython node speaks it (see broker/PROTOCOL.md).

Only what a gerai node sends and reads: topics, command payloads with unique
ids, presence and health, and the fields of the retained state it displays.
"""

import json

VERSION = 1
ACTIONS = ("call_next", "recall", "no_show", "done", "pause", "resume", "take_ticket")


def topic(site, gerai, channel):
    return "antre/v1/" + site + "/gerai/" + gerai + "/" + channel


class CommandIds:
    """Unique command ids: device, a per-boot random part, a counter."""

    def __init__(self, device, boot):
        self.device = device
        self.boot = boot
        self.counter = 0

    def next(self):
        self.counter += 1
        return "%s-%s-%06d" % (self.device, self.boot, self.counter)


def command(action, cmd_id, ts=None, service=None, priority="regular", reason=None):
    """The JSON payload of a command (bytes)."""
    if action not in ACTIONS:
        raise ValueError("unknown action " + action)
    msg = {"kind": action, "v": VERSION, "id": cmd_id}
    if ts is not None:
        msg["ts"] = ts
    if action == "take_ticket":
        if not service:
            raise ValueError("take_ticket needs a service")
        msg["service"] = service
        msg["priority"] = priority
        msg["print"] = False  # a MicroPython node has no printer
    if action == "pause" and reason:
        msg["reason"] = reason
    return json.dumps(msg).encode()


def presence(device, online, version):
    return json.dumps({"kind": "presence", "v": VERSION, "role": "gerai", "device": device,
                       "online": online, "version": version}).encode()


def health(device, version, uptime_s, ts, display_ok, buttons_ok):
    return json.dumps({"kind": "health", "v": VERSION, "role": "gerai", "device": device, "version": version,
                       "uptime_s": uptime_s, "ts": ts, "display": "ok" if display_ok else "fault",
                       "buttons": "ok" if buttons_ok else "fault"}).encode()


def parse_state(payload):
    """(ticket or None, waiting, status, rev) from a gerai_state payload; None if it is not one."""
    try:
        msg = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get("v") != VERSION or msg.get("kind") != "gerai_state":
        return None
    ticket = msg.get("ticket")
    waiting = msg.get("waiting")
    rev = msg.get("rev")
    if not isinstance(waiting, int) or not isinstance(rev, int):
        return None
    if ticket is not None and not isinstance(ticket, str):
        return None
    return ticket, waiting, msg.get("status", "idle"), rev
