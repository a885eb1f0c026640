"""Brokers and centrals as child processes, on free loopback ports, for tests, benchmarks,
the soak and any simulation that wants the real processes.

A broker is Mosquitto with the configuration ``antre broker mosquitto-config`` writes
(ACLs, persistence) or the embedded broker (``antre broker run``); a central is
``antre central run``.  Their output goes to a log file in the site's directory, kept
for the failure report.  Nothing sleeps blindly: waits are on conditions with timeouts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from antre.broker.admin.mosquitto import ListenerSettings, write_config_dir
from antre.sim.sitefiles import SiteFiles


class MissingTool(RuntimeError):
    """A program the simulation needs (Mosquitto) is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it is truthy; raise AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


class Proc:
    """A child process whose output is kept in ``log_path``."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.log_path = name, argv, log_path
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.log_path.parent, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class BrokerProc(Proc):
    """Mosquitto (generated config, ACLs and persistence on) or the embedded broker, for ``site``."""

    def __init__(self, kind: str, site: SiteFiles) -> None:
        self.kind, self.site = kind, site
        if kind == "mosquitto":
            binary = mosquitto_binary()
            if binary is None:
                raise MissingTool("mosquitto is not installed (apt-get install mosquitto)")
            out = site.dir / "mosquitto"
            run_as = "root" if os.geteuid() == 0 else None
            listener = ListenerSettings("127.0.0.1", site.port)
            write_config_dir(out, site.config.site_id, site.config.identities(), site.secrets, listener,
                             run_as=run_as, persistence_dir=site.dir / "mosquitto-data")
            argv = [binary, "-c", str(out / "mosquitto.conf")]
        elif kind == "embedded":
            argv = [sys.executable, "-m", "antre", "broker", "--config", str(site.config_path)]
        else:
            raise ValueError(f"unknown broker kind {kind!r} (mosquitto or embedded)")
        super().__init__(f"broker-{kind}", argv, site.dir / f"broker-{kind}.log")

    def start(self) -> None:
        super().start()
        wait_for(lambda: port_open(self.site.port) or not self.alive(), 15, f"{self.kind} to listen")
        if not self.alive():
            raise AssertionError(f"{self.kind} exited:\n{self.output()}")


class CentralProc(Proc):
    """``antre central`` for ``site`` (``extra``: more options, e.g. ``--db``)."""

    def __init__(self, site: SiteFiles, extra: Sequence[str] = (), name: str = "central") -> None:
        argv = [sys.executable, "-m", "antre", "central", "--config", str(site.config_path), *extra]
        super().__init__(name, argv, site.dir / f"{name}.log")

    def wait_ready(self, timeout: float = 20) -> None:
        wait_for(lambda: "antre central ready" in self.output() or not self.alive(), timeout, "central ready")
        if not self.alive():
            raise AssertionError(f"central exited:\n{self.output()}")


class ConsoleProc(Proc):
    """``antre console run`` for ``site`` on ``http_port`` of loopback (``extra``: more options)."""

    def __init__(self, site: SiteFiles, http_port: int, extra: Sequence[str] = (), name: str = "console") -> None:
        argv = [sys.executable, "-m", "antre", "console", "run", "--config", str(site.config_path),
                "--http-port", str(http_port), *extra]
        super().__init__(name, argv, site.dir / f"{name}.log")
        self.http_port = http_port
        self.url = f"http://127.0.0.1:{http_port}"

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: "antre console ready" in self.output() or not self.alive(), timeout, "console ready")
        if not self.alive():
            raise AssertionError(f"console exited:\n{self.output()}")


def kill(proc: Proc) -> None:
    """SIGKILL, and wait for it to be gone."""
    proc.signal(signal.SIGKILL)
    proc.wait(10)


@dataclass
class Stack:
    """A running site: its broker and its central service."""

    site: SiteFiles
    broker: BrokerProc
    central: CentralProc

    def report(self) -> str:
        return f"--- broker log\n{self.broker.output()}\n--- central log\n{self.central.output()}"


@contextmanager
def running_site(kind: str, directory: Path, site: SiteFiles | None = None,
                 report: Callable[[str], None] | None = None) -> Iterator[Stack]:
    """A site (the small test site by default) on a free port with its broker (``mosquitto`` or
    ``embedded``) and central, ready; both stopped afterwards, their logs given to ``report``."""
    site = site or SiteFiles(directory, free_port())
    broker = BrokerProc(kind, site)
    broker.start()
    central = CentralProc(site)
    stack = Stack(site, broker, central)
    try:
        central.start()
        central.wait_ready()
        yield stack
    finally:
        central.stop()
        broker.stop()
        if report is not None:
            report(stack.report())
