"""``/metrics`` (Prometheus text format) and ``/healthz`` of the central.

Served over HTTP on ``[central] metrics_bind``:``metrics_port`` of the site
file (loopback, port 9883, unless told otherwise; ``metrics = false`` turns it
off).  What it counts, since the central started:

- ``antre_commands_total``: decoded commands received, ``antre_duplicate_commands_total``
  redeliveries answered with their first reply, ``antre_batches_total``;
- ``antre_refusals_total{code}``: commands the queue refused, by code (``quota_exhausted``,
  ``stale``, ``clock_unsynced``, ...), from the committed ``command_refused`` events;
- ``antre_rejected_payloads_total{code}``: payloads refused before the engine (``malformed_json``,
  ``too_deep``, ...); ``antre_quarantined_total``: messages kept by ``antre quarantine``;
- ``antre_events_total{kind}``: committed events (``ticket_issued``, ``ticket_called``, ...);
- ``antre_commit_seconds``: a histogram of the event log's commit latency (the fsync);

and as gauges: ``antre_devices_online{role}``, ``antre_device_online{role,device}``,
``antre_printer_faults`` (printers out of paper, open, offline or in error), ``antre_lease_term``,
``antre_epoch``, ``antre_log_seq``, ``antre_broker_connected``, ``antre_ready``,
``antre_clock_synced`` and ``antre_loop_age_seconds`` (since the worker's last pass).

``/healthz`` answers ``200`` with a JSON body when the central serves (ready, connected to
the broker, its loop turning, the clock synchronised when required) and ``503`` with the
problems otherwise.

The worker thread publishes a :class:`Snapshot` at most once a second; the HTTP thread
only reads the latest one, so a scrape never touches the queue's state.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from antre.central import events as ev

log = logging.getLogger(__name__)

#: a worker loop not seen for this long makes /healthz fail (it passes 20 times a second)
LOOP_STALL_S = 10.0
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class DeviceSnapshot:
    role: str
    device: str
    online: bool | None
    printer: str | None
    printer_fault: bool


@dataclass(frozen=True)
class Snapshot:
    """What the worker knew at ``taken`` (monotonic): read by scrapes and health checks."""

    site: str
    taken: float = field(default_factory=time.monotonic)
    ready: bool = False
    connected: bool = False
    fenced: str | None = None
    term: int = 0
    epoch: int = 0
    seq: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    rejected_by_code: dict[str, int] = field(default_factory=dict)
    devices: tuple[DeviceSnapshot, ...] = ()
    clock_synced: bool | None = None  # None: not checked (require_clock_sync = false)
    loop_at: float = field(default_factory=time.monotonic)


class Metrics:
    """The central's metrics registry and health state."""

    def __init__(self, site: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot = Snapshot(site)
        self.commit_seconds = Histogram("antre_commit_seconds", "Latency of event log commits (one per batch)",
                                        buckets=COMMIT_BUCKETS, registry=self.registry)
        self.refusals = Counter("antre_refusals", "Commands refused by the queue, by code", ["code"],
                                registry=self.registry)
        self.events = Counter("antre_events", "Committed events, by kind", ["kind"], registry=self.registry)
        self.registry.register(_SnapshotCollector(self))

    def observe_commit(self, seconds: float, events: Sequence[ev.AnyEvent]) -> None:
        """The event log's commit observer (the worker thread)."""
        self.commit_seconds.observe(seconds)
        for event in events:
            kind = type(event).__struct_config__.tag
            self.events.labels(kind=str(kind)).inc()
            if isinstance(event, ev.CommandRefused):
                self.refusals.labels(code=event.code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def health(self, now: float | None = None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of ``/healthz``."""
        s = self.snapshot
        now = time.monotonic() if now is None else now
        loop_age = max(0.0, now - s.loop_at)
        problems = []
        if s.fenced:
            problems.append(f"fenced: {s.fenced}")
        if not s.ready:
            problems.append("not ready (checking the lease or waiting for the broker)")
        if not s.connected:
            problems.append("not connected to the broker")
        if loop_age > LOOP_STALL_S:
            problems.append(f"worker loop stalled for {loop_age:.0f} s")
        if s.clock_synced is False:
            problems.append("system clock not synchronised: tickets are refused (clock_unsynced)")
        body: dict[str, Any] = {
            "status": "ok" if not problems else "unavailable", "site": s.site, "ready": s.ready,
            "broker_connected": s.connected, "loop_age_s": round(loop_age, 3), "clock_synced": s.clock_synced,
            "lease_term": s.term, "epoch": s.epoch, "seq": s.seq,
            "devices_online": sum(1 for d in s.devices if d.online),
            "printer_faults": sum(1 for d in s.devices if d.printer_fault), "problems": problems,
        }
        return (200 if not problems else 503), body


class _SnapshotCollector:
    """Counters and gauges read from the latest snapshot at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # no fixed description: nothing to check against other collectors' names

    def collect(self) -> Iterable[Metric]:
        s = self.metrics.snapshot
        counters = (
            ("antre_commands", "Commands received and decoded", "commands"),
            ("antre_duplicate_commands", "Redelivered commands answered with their first reply", "duplicates"),
            ("antre_batches", "Batches of commands applied and committed", "batches"),
            ("antre_quarantined", "Messages whose handling failed, kept for `antre quarantine`", "quarantined"),
        )
        for name, doc, key in counters:
            yield CounterMetricFamily(name, doc, value=s.stats.get(key, 0))
        rejected = CounterMetricFamily("antre_rejected_payloads", "Payloads refused before the engine, by code",
                                       labels=["code"])
        for code, count in sorted(s.rejected_by_code.items()):
            rejected.add_metric([code], count)
        yield rejected
        online = GaugeMetricFamily("antre_devices_online", "Devices whose retained presence says online",
                                   labels=["role"])
        by_role: dict[str, int] = {}
        for d in s.devices:
            by_role[d.role] = by_role.get(d.role, 0) + (1 if d.online else 0)
        for role, count in sorted(by_role.items()):
            online.add_metric([role], count)
        yield online
        device = GaugeMetricFamily("antre_device_online", "1 when the device is online, 0 when offline",
                                   labels=["role", "device"])
        for d in s.devices:
            if d.online is not None:
                device.add_metric([d.role, d.device], 1 if d.online else 0)
        yield device
        yield GaugeMetricFamily("antre_printer_faults", "Printers out of paper, open, offline or in error",
                                value=sum(1 for d in s.devices if d.printer_fault))
        fault = GaugeMetricFamily("antre_printer_fault", "1 per printer in a fault state, by status",
                                  labels=["role", "device", "status"])
        for d in s.devices:
            if d.printer_fault and d.printer:
                fault.add_metric([d.role, d.device, d.printer], 1)
        yield fault
        gauges = (
            ("antre_lease_term", "Term of the central's lease on the site", s.term),
            ("antre_epoch", "Epoch of the event log (ms since 1970 at its start)", s.epoch),
            ("antre_log_seq", "Sequence number of the newest committed event", s.seq),
            ("antre_broker_connected", "1 while connected to the broker", int(s.connected)),
            ("antre_ready", "1 once the central serves", int(s.ready)),
            ("antre_loop_age_seconds", "Seconds since the worker loop's last pass",
             max(0.0, time.monotonic() - s.loop_at)),
        )
        for name, doc, value in gauges:
            yield GaugeMetricFamily(name, doc, value=value)
        if s.clock_synced is not None:
            yield GaugeMetricFamily("antre_clock_synced", "1 when the system clock is synchronised (NTP)",
                                    value=int(s.clock_synced))


class MetricsServer:
    """``/metrics`` and ``/healthz`` over HTTP in a daemon thread."""

    def __init__(self, metrics: Metrics, bind: str, port: int) -> None:
        self.metrics = metrics
        handler = _handler(metrics)
        self.httpd = ThreadingHTTPServer((bind, port), handler)
        self.httpd.daemon_threads = True
        self.address = (bind, int(self.httpd.server_address[1]))
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.25},
                                        name="metrics", daemon=True)

    @classmethod
    def start(cls, metrics: Metrics, bind: str, port: int) -> MetricsServer | None:
        """Serve, or log why not and return None: the queue runs without its metrics."""
        try:
            server = cls(metrics, bind, port)
        except OSError as exc:
            log.error("metrics endpoint not started: cannot listen on %s:%d (%s); set [central] metrics_port "
                      "or metrics = false in the site file", bind, port, exc.strerror or exc)
            return None
        server._thread.start()
        log.info("metrics on http://%s:%d/metrics and /healthz", bind, server.address[1])
        return server

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "antre-central"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.render())
            elif path in ("/healthz", "/health"):
                status, body = metrics.health()
                self._send(status, "application/json", json.dumps(body, indent=1).encode() + b"\n")
            else:
                self._send(404, "text/plain; charset=utf-8", b"antre central: /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            log.debug("metrics: " + format, *args)

    return Handler
