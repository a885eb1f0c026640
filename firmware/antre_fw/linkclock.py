"""The central's clock as the node measures it from the link: edge/'s LinkClock
(broker/link/clock.py) on MicroPython's ``ticks_ms``, in integer milliseconds.

The node sends ``ping``; the central answers with a ``pong`` reply carrying its
time.  From one round trip, measured on ``ticks_ms``, the central's time when the
pong arrived is ``pong.ts + rtt / 2`` (within ``rtt / 2``); the anchor then
follows ``ticks_ms`` (wrap-safe through ``ticks_diff``).  A sample with a round
trip over 2 s is ignored, and a worse sample replaces a better one only once
the better one is 5 minutes old.  Until the first pong the node does not know
the central's time (a board has no battery clock) and :meth:`now_ms` is None.
"""

MAX_RTT_MS = 2000
REFRESH_MS = 300000


class LinkClock:
    def __init__(self, ticks_diff):
        self.ticks_diff = ticks_diff
        self.anchor = None  # (ticks, central ms at that tick, rtt ms)
        self.sent = {}  # ping id -> ticks when sent
        self.pongs = 0

    @property
    def synced(self):
        return self.anchor is not None

    def ping_sent(self, ping_id, now):
        if len(self.sent) >= 8:  # pongs that never came
            self.sent = {}
        self.sent[ping_id] = now

    def is_ping(self, cmd_id):
        return cmd_id in self.sent

    def pong(self, ping_id, central_ms, now):
        """A pong for ``ping_id`` with the central's time (ms); True when the sample was used."""
        sent = self.sent.pop(ping_id, None)
        if sent is None or central_ms is None:
            return False
        rtt = max(0, self.ticks_diff(now, sent))
        if rtt > MAX_RTT_MS:
            return False
        self.pongs += 1
        current = self.anchor
        if current is not None and rtt > current[2] * 2 and self.ticks_diff(now, current[0]) < REFRESH_MS:
            return False
        self.anchor = (now, central_ms + rtt // 2, rtt)
        return True

    def now_ms(self, now):
        """The central's time at ``now`` (ticks_ms), in ms; None before the first pong."""
        a = self.anchor
        if a is None:
            return None
        return a[1] + self.ticks_diff(now, a[0])
