"""Poison-proof intake: no payload stops the central, every one is answered or quarantined.

The field report: a ``take_ticket`` with invalid UTF-8 inside a JSON string,
or a payload nested about 1,000 levels deep, made ``antre central`` exit; the
broker redelivered the unacknowledged message at every restart, so the
central crash-looped and the whole mall stopped.  These tests send exactly
those payloads (and their relatives) to a real central over both brokers.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role
from antre.central.engine import Engine
from antre.central.runner import CentralRunner
from antre.central.service import QueueService
from antre.central.store import EventStore
from tests.harness import BrokerProc, Device, Site, Stack, free_port, running_site, wait_for

BROKERS = ["mosquitto", "embedded"]

#: What crashed the central in the field, and its relatives.
POISON: list[bytes] = [
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-01","service":"ktp\xff\xfe","print":false}',
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-02","service":"ktp","note\xc3":1}',
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-03","x":' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-04","x":' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-05","x":' + b'{"a":' * 400 + b"1" + b"}" * 400 + b"}",
    b"[" * 2000,
    b'{"id":"k1-poison-06","kind":"take_ticket","v":1,"service":' + b'"' + b"x" * 5000 + b'"}',
    b"\xff" * 64,
    b"",
    b"null",
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-07","service":["ktp"]}',
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-08","service":"ktp","priority":"vip"}',
    b'{"v":1,"kind":"take_ticket","id":"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8","service":"ktp"}',
    b'{"v":1e400,"kind":"take_ticket","id":"k1-poison-09","service":"ktp"}',
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-10","service":"ktp","ts":-1}',
    b'{"v":1,"kind":"take_ticket","id":"k1-poison-11","service":"ktp","ts":1e308}',
    b'{"v":1,"kind":"board","site":"test","site_name":"x","rev":1,"ts":1}',
]


@pytest.fixture(params=BROKERS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_site(request.param, tmp_path) as s:
        yield s


def test_field_poison_is_answered_and_the_central_keeps_serving(stack: Stack) -> None:
    kiosk = Device(stack.site, Role.KIOSK, "k1")
    try:
        for payload in POISON:
            kiosk.publish_raw(payload)
        expected = {codec.answer_id(p) for p in POISON}
        assert len(expected) == len(POISON)  # every payload has its own answer id
        wait_for(lambda: expected <= set(kiosk.replies), 20, "an answer to every poison payload")
        for cid in expected:
            assert not kiosk.replies[cid].ok, kiosk.replies[cid]
        codes = {kiosk.replies[codec.answer_id(p)].code for p in POISON}
        assert {"malformed_json", "too_deep", "oversized", "invalid_message", "wrong_channel"} <= codes
        assert stack.central.alive()
        ok = kiosk.request(m.TakeTicket(id="k1-after-poison", service="ktp", print=False))
        assert (ok.ok, ok.ticket) == (True, "A001")  # no poison issued a number
        # nothing is redelivered to a restarted central: it comes up and serves at once
        stack.central.stop()
        stack.central.start()
        stack.central.wait_ready()
        again = kiosk.request(m.TakeTicket(id="k1-after-restart", service="ktp", print=False))
        assert (again.ok, again.ticket) == (True, "A002")
        assert "Traceback" not in stack.central.output()
    finally:
        kiosk.close()


def test_a_handling_failure_is_quarantined_answered_and_the_central_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met by one message: kept with its bytes, answered, acknowledged; nothing else lost."""
    original = Engine.transfer

    def exploding(self: Engine, gerai: str, service: str, now: float, note: str = "", cmd: str | None = None):  # type: ignore[no-untyped-def]
        if note == "boom":
            self.gerai[gerai].current = None  # half an application, as a real bug would leave it
            raise ZeroDivisionError("simulated bug")
        return original(self, gerai, service, now, note, cmd)

    monkeypatch.setattr(Engine, "transfer", exploding)
    site = Site(tmp_path, free_port())
    broker = BrokerProc("embedded", site)
    broker.start()
    store = EventStore(site.dir / "central.db", site.config.site_id)
    runner = CentralRunner(QueueService.open(site.config, store, 0.0),
                           site.address(Identity(Role.CENTRAL)))
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    g1 = kiosk = None
    try:
        assert runner.ready.wait(20)
        kiosk = Device(site, Role.KIOSK, "k1")
        g1 = Device(site, Role.GERAI, "g1")
        kiosk.request(m.TakeTicket(id="k1-q-000001", service="ktp", print=False))
        kiosk.request(m.TakeTicket(id="k1-q-000002", service="ktp", print=False))
        assert g1.request(m.CallNext(id="g1-q-000001")).ticket == "A001"
        boom = g1.request(m.Transfer(id="g1-q-000002", service="kk", note="boom"))
        assert (boom.ok, boom.code) == (False, "internal_error")
        assert "karantina 1" in boom.text_id
        # the half-applied change was thrown away: g1 still holds A001, the next call completes it
        assert g1.request(m.Recall(id="g1-q-000003")).ticket == "A001"
        assert g1.request(m.CallNext(id="g1-q-000004")).ticket == "A002"
        assert runner.stats["quarantined"] == 1
        entries = store.quarantined()
        assert [(e.topic, e.error) for e in entries] == [
            ("antre/v1/test/gerai/g1/cmd", "ZeroDivisionError: simulated bug")
        ]
        assert b'"note":"boom"' in entries[0].payload
    finally:
        stop.set()
        thread.join(20)
        for c in (g1, kiosk):
            if c is not None:
                c.close()
        broker.stop()
        store.close()
    from antre.cli import main

    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        assert main(["quarantine", "--config", str(site.config_path)]) == 0
    assert "antre/v1/test/gerai/g1/cmd" in out.getvalue() and "ZeroDivisionError" in out.getvalue()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["quarantine", "--config", str(site.config_path), "--show", "1"]) == 0
    assert "boom" in out.getvalue()
