"""The central as a service: readiness, watchdog, metrics, around a running :class:`CentralRunner`.

:func:`attach` hooks into the runner's worker loop (``runner.on_pass``) and its
event log (``store.on_commit``):

- ``READY=1`` goes to systemd once the central serves (its lease confirmed,
  every state republished), with a ``STATUS=`` line naming the site;
- a :class:`~antre.daemon.Watchdog` pings ``WATCHDOG=1`` while the worker loop
  turns (it passes 20 times a second; a pass that hangs, e.g. on a dead SD
  card's fsync, stops the pings and systemd restarts the central).  While the
  broker is unreachable the loop is in its reconnect backoff, which is
  progress too;
- the metrics snapshot is refreshed at most once a second and ``/metrics`` and
  ``/healthz`` are served when the site file says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from antre.broker.wire import messages as m
from antre.central.metrics import DeviceSnapshot, Metrics, MetricsServer, Snapshot
from antre.central.runner import CentralRunner
from antre.daemon import Notifier, Progress, Watchdog

log = logging.getLogger(__name__)

#: printer states that are a fault for a technician (as the runner logs them)
SNAPSHOT_EVERY_S = 1.0


@dataclass
class Attached:
    """What :func:`attach` started; :meth:`close` stops it."""

    runner: CentralRunner
    notifier: Notifier
    progress: Progress
    watchdog: Watchdog
    metrics: Metrics
    server: MetricsServer | None
    _snapshot_at: float = float("-inf")

    def on_pass(self) -> None:
        self.progress.touch()
        runner = self.runner
        if runner.ready.is_set() and not self.notifier.sent_ready:
            self.notifier.ready(f"serving site {runner.config.site_id} (lease term {runner.claim.term})")
        now = time.monotonic()
        last = self.metrics.snapshot
        changed = last.ready != runner.ready.is_set() or last.connected != runner.link.connected.is_set()
        if changed or now - self._snapshot_at >= SNAPSHOT_EVERY_S:
            self._snapshot_at = now
            self.metrics.snapshot = snapshot(runner, now)

    def alive(self) -> bool:
        """The watchdog's check: the loop passed lately, or it is reconnecting to the broker."""
        limit = (self.watchdog.notifier.watchdog_s or 30.0) / 2
        return self.progress.recent(limit) or not self.runner.link.connected.is_set()

    def close(self) -> None:
        self.watchdog.stop()
        if self.server is not None:
            self.server.close()
        self.runner.service.store.on_commit = None


def snapshot(runner: CentralRunner, now: float | None = None) -> Snapshot:
    """What the runner knows now, for metrics and health (called in the worker thread)."""
    devices = []
    for key, status in list(runner.devices.items()):
        role, _, device = key.partition("/")
        devices.append(DeviceSnapshot(role, device, status.online, status.printer,
                                      status.printer in m.PRINTER_FAULTS))
    gate = runner.service.clock_gate
    state = getattr(gate, "state", None)
    return Snapshot(
        site=runner.config.site_id, ready=runner.ready.is_set(), connected=runner.link.connected.is_set(),
        fenced=runner.fenced, term=runner.claim.term, epoch=runner.service.epoch,
        seq=runner.service.store.last_seq, stats=dict(runner.stats), rejected_by_code=dict(runner.rejected_by_code),
        devices=tuple(devices), clock_synced=None if gate is None else bool(state is not None and state.synced),
        loop_at=time.monotonic() if now is None else now,
    )


def attach(runner: CentralRunner, notifier: Notifier | None = None) -> Attached:
    """Hook readiness, the watchdog and metrics into ``runner`` (before :meth:`CentralRunner.run`)."""
    notifier = notifier or Notifier()
    config = runner.config
    metrics = Metrics(config.site_id)
    progress = Progress()
    server = None
    if config.central.metrics:
        server = MetricsServer.start(metrics, config.central.metrics_bind, config.central.metrics_port)
    attached = Attached(runner, notifier, progress, Watchdog(notifier, lambda: True), metrics, server)
    attached.watchdog.alive = attached.alive
    runner.on_pass.append(attached.on_pass)
    # the store outlives a rebuild of the service (quarantine), so its observer stays
    runner.service.store.on_commit = metrics.observe_commit
    attached.watchdog.start()
    return attached
