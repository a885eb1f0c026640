"""``/metrics``, ``/healthz`` and ``antre status`` of a running site."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.central import events as ev
from antre.central.metrics import Metrics, MetricsServer, Snapshot
from antre.central.metrics import DeviceSnapshot
from tests.conftest import ROOT
from tests.harness import BrokerProc, CentralProc, Device, Proc, Site, agent_config, free_port, wait_for


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text ``text``."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return None


def test_metrics_count_commits_refusals_and_devices() -> None:
    metrics = Metrics("test")
    metrics.observe_commit(0.004, [
        ev.TicketIssued(ts=1.0, actor="k1", cmd="c1", ticket_id="20231117-A001", service="ktp", number="A001",
                        seq=1, priority="regular", print=True),
        ev.CommandRefused(ts=1.0, actor="k1", cmd="c2", action="take_ticket", code="quota_exhausted"),
    ])
    metrics.snapshot = Snapshot(
        "test", ready=True, connected=True, term=3, epoch=1700000000000, seq=42,
        stats={"commands": 7, "duplicates": 1, "batches": 5, "quarantined": 2},
        rejected_by_code={"malformed_json": 4},
        devices=(DeviceSnapshot("gerai", "g1", True, "ok", False), DeviceSnapshot("kiosk", "k1", True, "paper_out", True),
                 DeviceSnapshot("gerai", "g2", False, None, False)),
        clock_synced=True,
    )
    text = metrics.render().decode()
    assert _sample(text, "antre_commands_total") == 7
    assert _sample(text, "antre_quarantined_total") == 2
    assert _sample(text, "antre_refusals_total", code="quota_exhausted") == 1
    assert _sample(text, "antre_events_total", kind="ticket_issued") == 1
    assert _sample(text, "antre_rejected_payloads_total", code="malformed_json") == 4
    assert _sample(text, "antre_commit_seconds_count") == 1
    assert _sample(text, "antre_commit_seconds_bucket", le="0.005") == 1
    assert _sample(text, "antre_devices_online", role="gerai") == 1
    assert _sample(text, "antre_device_online", role="gerai", device="g2") == 0
    assert _sample(text, "antre_printer_faults") == 1
    assert _sample(text, "antre_printer_fault", role="kiosk", device="k1", status="paper_out") == 1
    assert (_sample(text, "antre_lease_term"), _sample(text, "antre_epoch"), _sample(text, "antre_log_seq")) == (
        3, 1.7e12, 42)
    assert _sample(text, "antre_clock_synced") == 1 and _sample(text, "antre_ready") == 1
    status, body = metrics.health()
    assert status == 200 and body["status"] == "ok" and body["printer_faults"] == 1
    import dataclasses

    metrics.snapshot = dataclasses.replace(metrics.snapshot, clock_synced=False, connected=False)
    status, body = metrics.health()
    assert status == 503 and len(body["problems"]) == 2 and "clock_unsynced" in body["problems"][1]


def test_metrics_server_answers_and_a_busy_port_does_not_stop_the_central(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics("test")
    server = MetricsServer.start(metrics, "127.0.0.1", 0)
    assert server is not None
    try:
        port = server.address[1]
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "antre_ready 0.0" in text
        status, text = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503 and json.loads(text)["ready"] is False
        assert _get(f"http://127.0.0.1:{port}/nothing")[0] == 404
        with caplog.at_level(logging.ERROR):
            assert MetricsServer.start(metrics, "127.0.0.1", port) is None
        assert "metrics endpoint not started" in caplog.text
    finally:
        server.close()


def _status(site: Site, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "antre", "status", "--config", str(site.config_path), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_status_and_metrics_of_a_running_site(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    metrics_port = free_port()
    text = site.config_path.read_text().replace("metrics = false", f"metrics_port = {metrics_port}")
    site.config_path.write_text(text)
    broker = BrokerProc("embedded", site)
    broker.start()
    central = CentralProc(site)
    agent_path = tmp_path / "g1.toml"
    agent_path.write_text(agent_config(site, "gerai", "g1", extra='health_interval_s = 5\n'
                                       '[printer]\nport = "mock"\n'))
    agent = Proc("agent", [sys.executable, "-m", "antre", "edge", "run", "--config", str(agent_path), "--mock"],
                 tmp_path / "agent.log")
    kiosk = None
    try:
        central.start()
        central.wait_ready()
        assert _status(site, "--wait", "0").returncode == 1  # nobody has connected yet
        agent.start()
        kiosk = Device(site, Role.KIOSK, "k1")
        assert kiosk.request(m.TakeTicket(id="k1-00000001", service="ktp")).ok
        assert kiosk.request(m.TakeTicket(id="k1-00000002", service="paspor")).code == "unknown_service"
        kiosk.publish_raw(b'{"kind": "take_ticket", "id": ')
        url = f"http://127.0.0.1:{metrics_port}"

        def metrics_show_it() -> str | None:
            status, body = _get(url + "/metrics")
            ok = (status == 200 and _sample(body, "antre_refusals_total", code="unknown_service") == 1
                  and _sample(body, "antre_rejected_payloads_total", code="malformed_json") == 1
                  and _sample(body, "antre_devices_online", role="gerai") == 1)
            return body if ok else None

        body = wait_for(metrics_show_it, 15, "the metrics of the commands and of g1")
        assert _sample(body, "antre_events_total", kind="ticket_issued") == 1
        assert (_sample(body, "antre_commit_seconds_count") or 0) >= 2
        assert _sample(body, "antre_lease_term") == 1 and _sample(body, "antre_broker_connected") == 1
        assert _sample(body, "antre_clock_synced") is None  # the test site does not check the clock
        status, health = _get(url + "/healthz")
        assert status == 200 and json.loads(health)["devices_online"] == 2  # g1 and the kiosk

        # status: g1 online with its retained health (every 5 s here), the rest never seen
        def g1_reported() -> subprocess.CompletedProcess[str] | None:
            out = _status(site, "--wait", "0")
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("gerai g1 ")), "")
            return out if " online " in line and " ok " in line and "0.1.0" in line else None

        out = wait_for(g1_reported, 20, "g1 online with a health report in antre status")
        assert out.returncode == 1  # g2, g3, g4 never connected: attention
        assert re.search(r"^central\s+online\s+host \S+ pid \d+, term 1", out.stdout, re.M), out.stdout
        assert re.search(r"^gerai g2\s+never\s+.*never seen", out.stdout, re.M), out.stdout
        assert re.search(r"^lobby lobby-1\s+no report", out.stdout, re.M), out.stdout
        assert "2 of 6 devices online" in out.stdout  # g1 and the kiosk (its presence, no health)
        js = json.loads(_status(site, "--json", "--wait", "0").stdout)
        g1 = next(d for d in js["devices"] if d["device"] == "g1")
        assert g1["online"] and g1["health"]["printer"] == "ok" and g1["problems"] == []
        assert js["central"]["online"] and js["needs_attention"]
        # g1 goes away: its last will says offline, its last health stays
        agent.stop()
        offline = wait_for(lambda: (o := _status(site, "--wait", "0")) and re.search(
            r"^gerai g1\s+OFFLINE .* ok\s+offline", o.stdout, re.M) and o, 15, "g1 offline in antre status")
        assert offline.returncode == 1
    finally:
        if kiosk is not None:
            kiosk.close()
        agent.stop()
        central.stop()
        broker.stop()
        print(f"--- central\n{central.output()}\n--- agent\n{agent.output()}")


def test_status_without_a_broker_says_so(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    with socket.socket() as s:  # nothing listens on the site's port
        assert s.connect_ex(("127.0.0.1", site.port)) != 0
    out = subprocess.run([sys.executable, "-m", "antre", "status", "--config", str(site.config_path),
                          "--timeout", "1"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 5 and "no answer from the broker" in out.stderr
    assert codec  # the wire codec is what status decodes with
