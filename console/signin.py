"""Who may try a password now: the console's sign-in limits (the policy, in one place).

A password check costs a tenth of a second of one core (scrypt, :mod:`antre.console.accounts`).
Every try is *reserved* here before its hash is computed, and the reservation counts against the
limits at once, so tries sent in parallel are counted as they arrive, not after their hashes:

* **account and address** (``login_attempts`` per ``login_window_s``, 5 per 5 minutes by default):
  the person who mistyped; the right password from that address waits too.
* **address** (four times as many, over every account): one PC spraying names.
* **account, over every address** (ten times as many): guessing one account from many PCs.  Past
  this ceiling the account is *guarded*: a try from an address that has no failure of its own for
  the account and from which the account signed in before (remembered 30 days) still goes through,
  so nobody locks a person out from their own counter PC; any other address gets one try per
  ``login_window_s / login_attempts`` for the whole account (a slow backoff, never a lock).
* **in flight**: at most :data:`PER_ADDRESS_IN_FLIGHT` tries of one address are checked at once,
  at most :data:`HASH_SLOTS` hashes run at once and :data:`HASH_QUEUE` wait: any more are answered
  429 at once, without hashing.  A try from an address with no failure in the window (a person at
  their PC, not a flood, whose every try fails) has :data:`CLEAN_QUEUE` more places and goes ahead
  of the others for the next free slot (:class:`HashSlots`): a flood cannot keep a real sign-in out.

Failures are forgotten after the window; a successful sign-in forgets the failures of its account
from its address (the account's total stays: a guessing campaign goes on counting).  Nothing here touches the database: :class:`SignInGate` is plain data, used
on the web server's event loop.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass, field

#: hashes computed at once (the console's host has few cores; the rest of the console needs one)
HASH_SLOTS = 2
#: tries waiting for a hash slot; one more is answered "busy" at once
HASH_QUEUE = 8
#: more places in the queue for tries from addresses with no failure in the window (they go first)
CLEAN_QUEUE = 4
#: tries of one address being checked at once
PER_ADDRESS_IN_FLIGHT = 2
#: the address limit and the account ceiling, as multiples of ``login_attempts``
ADDRESS_FACTOR = 4
ACCOUNT_FACTOR = 10
#: most keys remembered (a spray of names is bounded)
MAX_KEYS = 20000


class Verdict(enum.Enum):
    """Why a try is not checked now."""

    BLOCKED = "blocked"  #: too many failures: wait (``Refusal.wait_s``)
    BUSY = "busy"  #: too many tries being checked at once: try again in a moment


@dataclass(frozen=True)
class Refusal:
    """A try refused before any hashing."""

    verdict: Verdict
    wait_s: float
    scope: str  #: pair | address | account | in-flight | slots


@dataclass(frozen=True)
class Reservation:
    """A try admitted: its hash may be computed; :meth:`SignInGate.failed` or
    :meth:`SignInGate.succeeded` settles it (exactly once)."""

    name: str
    addr: str
    guarded: bool
    clean: bool = False  #: the address had no failure in the window: its hash goes first


@dataclass
class SignInGate:
    """The limits of the module docstring for ``attempts`` failures per ``window_s``."""

    attempts: int
    window_s: float
    failures: dict[str, deque[float]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    waiting: int = 0  #: admitted tries not yet settled (running or waiting for a hash slot)
    guard_next: dict[str, float] = field(default_factory=dict)  #: guarded account -> next unknown-address try

    @staticmethod
    def _keys(name: str, addr: str) -> tuple[str, str, str]:
        return f"pair:{name}\0{addr}", f"addr:{addr}", f"user:{name}"

    def _count(self, key: str, now: float) -> tuple[int, float]:
        """(failures within the window, seconds until the oldest of them leaves it)."""
        q = self.failures.get(key)
        if not q:
            return 0, 0.0
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self.failures[key]
            return 0, 0.0
        return len(q), self.window_s - (now - q[0])

    def reserve(self, name: str, addr: str, now: float, *, known_address: bool) -> Reservation | Refusal:
        """Admit one try of ``name`` from ``addr`` (counted at once), or say why not.
        ``known_address``: the account signed in from ``addr`` before (asked only when it matters)."""
        pair, address, account = self._keys(name, addr)
        limits = ((pair, self.attempts, "pair"), (address, self.attempts * ADDRESS_FACTOR, "address"))
        for key, limit, scope in limits:
            count, wait = self._count(key, now)
            if count + self.in_flight.get(key, 0) >= limit:
                return Refusal(Verdict.BLOCKED, max(wait, 1.0), scope)
        if self.in_flight.get(address, 0) >= PER_ADDRESS_IN_FLIGHT:
            return Refusal(Verdict.BUSY, 1.0, "in-flight")
        clean = self._count(address, now)[0] == 0
        if self.waiting >= HASH_SLOTS + HASH_QUEUE + (CLEAN_QUEUE if clean else 0):
            return Refusal(Verdict.BUSY, 1.0, "slots")
        total, _ = self._count(account, now)
        guarded = total + self.in_flight.get(account, 0) >= self.attempts * ACCOUNT_FACTOR
        if guarded:
            clean = self._count(pair, now)[0] == 0 and self.in_flight.get(pair, 0) == 0
            if not (clean and known_address):
                due = self.guard_next.get(name, 0.0)
                if now < due:
                    return Refusal(Verdict.BLOCKED, due - now, "account")
                self.guard_next[name] = now + self.window_s / self.attempts
        for key in (pair, address, account):
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.waiting += 1
        return Reservation(name, addr, guarded, clean)

    def needs_known_address(self, name: str, now: float) -> bool:
        """Is the account past its ceiling (so the caller must look up whether the address is known)?"""
        _, _, account = self._keys(name, "")
        total, _ = self._count(account, now)
        return total + self.in_flight.get(account, 0) >= self.attempts * ACCOUNT_FACTOR

    def _release(self, r: Reservation) -> None:
        for key in self._keys(r.name, r.addr):
            left = self.in_flight.get(key, 0) - 1
            if left > 0:
                self.in_flight[key] = left
            else:
                self.in_flight.pop(key, None)
        self.waiting = max(0, self.waiting - 1)

    def failed(self, r: Reservation, now: float) -> None:
        """The password was wrong: the try counts as a failure of its account, address and pair."""
        self._release(r)
        for key in self._keys(r.name, r.addr):
            self.failures.setdefault(key, deque(maxlen=self.attempts * ACCOUNT_FACTOR)).append(now)
        if len(self.failures) > MAX_KEYS:
            self.failures = {k: q for k, q in self.failures.items() if q and now - q[-1] <= self.window_s}
            self.guard_next = {k: t for k, t in self.guard_next.items() if t > now}

    def succeeded(self, r: Reservation) -> None:
        """The password was right: the account's failures from this address are forgotten."""
        self._release(r)
        pair, _, _ = self._keys(r.name, r.addr)
        self.failures.pop(pair, None)

    def abandoned(self, r: Reservation) -> None:
        """The try was never checked (the request went away): it counts for nothing."""
        self._release(r)


class HashSlots:
    """At most ``slots`` password hashes at once; a waiting try from a clean address (see
    :class:`Reservation`) gets the next free slot before the others.  Use on one event loop."""

    def __init__(self, slots: int = HASH_SLOTS) -> None:
        self.free = slots
        self._first: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    async def acquire(self, first: bool) -> None:
        if self.free > 0 and not self._first and not self._others:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._first if first else self._others
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as we were cancelled: pass it on
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        for queue in (self._first, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the slot goes straight to it
                    return
        self.free += 1
