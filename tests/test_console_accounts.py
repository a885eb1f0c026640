"""The console's database and its server's guard, without a server: sessions end where they are
stored, bursts of refusals are one journal row, old rows go, the sign-in gate's policy, running out
of file descriptors is logged once a minute, and the command line says where TLS is set."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.console.accounts import KEEP_DAYS, KEEP_ROWS, AccountError, Accounts
from antre.console.signin import (ACCOUNT_FACTOR, CLEAN_QUEUE, HASH_QUEUE, HASH_SLOTS, Refusal, Reservation,
                                  SignInGate, Verdict)


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    a = Accounts(tmp_path / "console.db")
    a.add("rina", "supervisor", "supervisor-rina")
    return a


def test_a_session_ends_at_sign_out_a_new_password_and_removal(accounts: Accounts) -> None:
    rina = accounts.get("rina")
    assert rina is not None
    first, second = (accounts.open_session(rina, "10.0.0.5", 3600) for _ in range(2))
    assert accounts.session_user(first) == rina and accounts.session_user(second) == rina
    assert accounts.end_session(first) and accounts.session_user(first) is None
    assert accounts.session_user(second) == rina  # the other browser stays signed in
    accounts.passwd("rina", "another-password")
    assert accounts.session_user(second) is None
    fresh = accounts.open_session(accounts.get("rina"), "10.0.0.5", 3600)  # type: ignore[arg-type]
    accounts.remove("rina")
    assert accounts.session_user(fresh) is None
    assert accounts.session_user("not-a-session-id-at-all-xx") is None and accounts.session_user("") is None


def test_a_session_ends_with_its_time(accounts: Accounts) -> None:
    rina = accounts.get("rina")
    assert rina is not None
    sid = accounts.open_session(rina, "10.0.0.5", -1)
    assert accounts.session_user(sid) is None


def test_the_database_keeps_no_session_id(accounts: Accounts, tmp_path: Path) -> None:
    rina = accounts.get("rina")
    assert rina is not None
    sid = accounts.open_session(rina, "10.0.0.5", 3600)
    assert sid.encode() not in (tmp_path / "console.db").read_bytes()
    assert not any(sid.encode() in p.read_bytes() for p in tmp_path.glob("console.db*"))


def test_a_burst_of_refusals_is_one_row_with_its_count(accounts: Accounts) -> None:
    firsts = [accounts.journal_burst("rina", "10.0.0.9", "login_blocked", "batas: pair") for _ in range(500)]
    assert firsts[0] and not any(firsts[1:])
    rows = [e for e in accounts.journal_entries(1000) if e.what == "login_blocked"]
    assert len(rows) == 1 and "500 kali" in rows[0].detail
    assert accounts.journal_burst("rina", "10.0.0.10", "login_blocked")  # another address: its own row


def test_old_and_surplus_rows_are_dropped(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    import antre.console.accounts as module

    now = time.time()
    for n in range(30):
        accounts.journal("rina", "10.0.0.1", "login")
        accounts.alarm_started(f"k{n}", "device", "gerai g1", "OFFLINE", now - (KEEP_DAYS + 1) * 86400 * (n % 2))
    accounts._db.execute("UPDATE journal SET ts = ? WHERE id <= 10", (now - (KEEP_DAYS + 1) * 86400,))
    monkeypatch.setattr(module, "KEEP_ROWS", 12)
    assert KEEP_ROWS > 12
    gone = accounts.prune(now)
    assert len(accounts.journal_entries(100)) == 12 and len(accounts.alarm_history(100)) <= 12
    assert gone >= 18 + 18


def test_the_journal_pages_back(accounts: Accounts) -> None:
    for n in range(25):
        accounts.journal("rina", "10.0.0.1", "login", str(n))
    page1 = accounts.journal_entries(10)
    page2 = accounts.journal_entries(10, before=page1[-1].id)
    assert [e.detail for e in page1] == [str(n) for n in range(24, 14, -1)]
    assert [e.detail for e in page2] == [str(n) for n in range(14, 4, -1)]


def test_an_admin_is_an_admin(accounts: Accounts) -> None:
    with pytest.raises(AccountError) as refused:
        accounts.add("ani", "admin", "admin-ani-123", ["g1"])
    assert "an admin may act" in str(refused.value)


# ---------------------------------------------------------------------- the sign-in gate


def test_tries_in_flight_count_against_the_limit() -> None:
    gate = SignInGate(attempts=5, window_s=300)
    admitted = []
    for i in range(20):
        got = gate.reserve("ani", f"10.0.0.{i // 2}", 0.0, known_address=False)  # two at a time per address
        if isinstance(got, Reservation):
            admitted.append(got)
    # addresses that never failed: the queue and its places kept for them; the rest: busy, without a hash
    assert len(admitted) == HASH_SLOTS + HASH_QUEUE + CLEAN_QUEUE and all(r.clean for r in admitted)
    refused = gate.reserve("ani", "10.0.0.99", 0.0, known_address=False)
    assert isinstance(refused, Refusal) and refused.verdict is Verdict.BUSY
    for r in admitted:
        gate.failed(r, 1.0)
    assert gate.waiting == 0 and not gate.in_flight
    # the same addresses, now with failures: the ordinary queue only
    again = [gate.reserve(f"u{i}", f"10.0.0.{i // 2}", 2.0, known_address=False) for i in range(14)]
    dirty = [r for r in again if isinstance(r, Reservation)]
    assert len(dirty) == HASH_SLOTS + HASH_QUEUE and not any(r.clean for r in dirty)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), max_size=80))
def test_no_pair_ever_gets_more_checks_than_its_limit(steps: list[tuple[int, bool, bool]]) -> None:
    """Whatever the interleaving of tries and answers, one account is checked at most ``attempts`` times
    from one address within the window (right passwords aside)."""
    gate = SignInGate(attempts=3, window_s=300)
    pending: list[Reservation] = []
    checked: dict[str, int] = {}
    now = 0.0
    for addr, settle, _ in steps:
        now += 0.01
        got = gate.reserve("ani", f"10.0.0.{addr}", now, known_address=False)
        if isinstance(got, Reservation):
            pending.append(got)
            checked[got.addr] = checked.get(got.addr, 0) + 1
        if settle and pending:
            gate.failed(pending.pop(0), now)
    assert all(n <= 3 for n in checked.values()), checked


def test_a_guarded_account_lets_its_own_pc_in_and_spaces_the_others() -> None:
    gate = SignInGate(attempts=5, window_s=300)
    for a in range(ACCOUNT_FACTOR):
        for _ in range(5):
            r = gate.reserve("dewi", f"10.1.0.{a}", 0.0, known_address=False)
            assert isinstance(r, Reservation)
            gate.failed(r, 0.0)
    assert gate.needs_known_address("dewi", 1.0)
    own = gate.reserve("dewi", "10.0.0.60", 1.0, known_address=True)
    assert isinstance(own, Reservation)
    gate.succeeded(own)
    first = gate.reserve("dewi", "10.0.0.61", 1.0, known_address=False)
    second = gate.reserve("dewi", "10.0.0.62", 2.0, known_address=False)
    assert isinstance(first, Reservation) and isinstance(second, Refusal) and second.scope == "account"
    later = gate.reserve("dewi", "10.0.0.62", 1.0 + 300 / 5, known_address=False)
    assert isinstance(later, Reservation)


# ---------------------------------------------------------------------- the server


def test_running_out_of_file_descriptors_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    from antre.console.main import ConnectionGuard, _accept_errors

    guard = ConnectionGuard(100)
    handler = _accept_errors(guard)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.WARNING, logger="antre.console.main"):
            for _ in range(5000):
                handler(loop, {"message": "socket.accept() out of system resource",
                               "exception": OSError(24, "Too many open files")})
    finally:
        loop.close()
    lines = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert guard.refused["fds"] == 5000


def test_console_run_help_says_where_tls_is_set() -> None:
    out = subprocess.run([sys.executable, "-m", "antre", "console", "run", "--help"], capture_output=True, text=True,
                         check=True).stdout
    flat = " ".join(out.split())
    assert "[console] section" in flat and "certfile" in flat and "keyfile" in flat


def test_a_clean_address_gets_the_next_hash_slot_first() -> None:
    from antre.console.signin import HashSlots

    async def run() -> list[str]:
        slots = HashSlots(1)
        order: list[str] = []
        await slots.acquire(first=False)  # a hash is running

        async def wait(name: str, first: bool) -> None:
            await slots.acquire(first)
            order.append(name)
            await asyncio.sleep(0)
            slots.release()

        tasks = [asyncio.create_task(wait(f"flood{i}", False)) for i in range(5)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(wait("person", True)))
        cancelled = asyncio.create_task(wait("gone", True))
        await asyncio.sleep(0)
        cancelled.cancel()  # a request that went away gives its place up
        await asyncio.sleep(0)
        slots.release()
        await asyncio.gather(*tasks)
        assert slots.free == 1
        return order

    order = asyncio.run(run())
    assert order[0] == "person" and "gone" not in order and len(order) == 6
