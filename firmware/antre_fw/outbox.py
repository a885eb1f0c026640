"""A node's unanswered commands: edge/'s Outbox (broker/link/outbox.py) on ``ticks_ms``.

Every command is kept until its reply arrives and resent unchanged (same id,
same press time) when no reply came within ``resend_ms`` and at once after a
reconnect, until its deadline (the press deadline, 5 s): then it is dropped and
the node shows that the press got no answer.  The central applies an id once
and refuses a late press as ``stale``, so a resend can never act twice or late.
"""


class Pending:
    __slots__ = ("id", "payload", "action", "first", "last_sent", "sends", "deadline_ms")

    def __init__(self, cmd_id, payload, action, now, deadline_ms, sent, resend_ms):
        self.id = cmd_id
        self.payload = payload
        self.action = action
        self.first = now
        self.deadline_ms = deadline_ms
        self.last_sent = now if sent else now - resend_ms
        self.sends = 1 if sent else 0


class Outbox:
    def __init__(self, ticks_diff, resend_ms=1000, limit=8):
        self.ticks_diff = ticks_diff
        self.resend_ms = resend_ms
        self.limit = limit  # a person presses a few times in 5 s; more is a stuck button
        self.pending = []
        self.resent = 0
        self.expired_count = 0

    def add(self, cmd_id, payload, action, now, deadline_ms, sent):
        if len(self.pending) >= self.limit:
            self.pending.pop(0)
            self.expired_count += 1
        p = Pending(cmd_id, payload, action, now, deadline_ms, sent, self.resend_ms)
        self.pending.append(p)
        return p

    def settle(self, cmd_id):
        """Its reply arrived: forget it and return it (None when it was not waiting)."""
        for i in range(len(self.pending)):
            if self.pending[i].id == cmd_id:
                return self.pending.pop(i)
        return None

    def due(self, now, reconnected=False):
        """What to send again now (same bytes): unanswered for ``resend_ms``, or all after a reconnect."""
        if not self.pending:
            return ()
        out = []
        for p in self.pending:
            if self.ticks_diff(now, p.first) < p.deadline_ms and (
                    reconnected or self.ticks_diff(now, p.last_sent) >= self.resend_ms):
                p.last_sent = now
                p.sends += 1
                if p.sends > 1:
                    self.resent += 1
                out.append(p)
        return out

    def expired(self, now):
        """Commands whose deadline passed unanswered: removed and returned."""
        if not self.pending:
            return ()
        gone = None
        keep = self.pending
        for p in self.pending:
            if self.ticks_diff(now, p.first) >= p.deadline_ms:
                if gone is None:
                    gone, keep = [], []
                    for q in self.pending:  # no comprehension: it would make cells on every call
                        if self.ticks_diff(now, q.first) < q.deadline_ms:
                            keep.append(q)
                gone.append(p)
        if gone is None:
            return ()
        self.pending = keep
        self.expired_count += len(gone)
        return gone

    def __len__(self):
        return len(self.pending)
