"""Services as Raspberry Pi OS expects: systemd units, sd_notify, watchdog, journald logging.

- Every unit's key settings are checked here; where ``systemd-analyze`` exists, each unit is
  verified (``systemd-analyze verify``) and scored (``security --offline=yes``, below 3), and
  the scores are printed in the test summary.
- The central, run under systemd's conditions as far as a test can make them (a notify socket,
  a watchdog period, stderr as the "journal stream", W^X memory where the kernel offers
  ``PR_SET_MDWE``), says READY=1, pings WATCHDOG=1, logs with syslog priorities and no
  timestamps, and says STOPPING=1 on SIGTERM.
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from antre.cli import parse
from antre.daemon import JournalFormatter, Notifier, Progress, Watchdog, journal_stream, setup_logging, syslog_priority
from tests.conftest import ROOT
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.central.clocksync import kernel_clock
from tests.harness import BrokerProc, Device, Site, free_port, wait_for

UNITS = {
    "central": ROOT / "central" / "antre-central.service",
    "edge": ROOT / "edge" / "antre-edge.service",
    "lobby": ROOT / "lobby" / "antre-lobby.service",
    "broker": ROOT / "broker" / "antre-broker.service",
    "backup": ROOT / "central" / "antre-backup.service",
    "console": ROOT / "console" / "antre-console.service",
}
LONG_RUNNING = ("central", "edge", "lobby", "broker", "console")
MAX_EXPOSURE = 3.0


def unit_settings(path: Path) -> dict[str, list[str]]:
    """``Key: [values]`` of a unit file (systemd allows a key several times)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def one(settings: dict[str, list[str]], key: str) -> str:
    values = settings.get(key, [])
    assert values, f"{key} is not set"
    return values[-1]


@pytest.mark.parametrize("role", sorted(UNITS))
def test_unit_files_have_the_settings_a_debian_packager_expects(role: str) -> None:
    s = unit_settings(UNITS[role])
    doc = one(s, "Unit.Documentation")
    assert doc == "file:///opt/antre/src/README.md" and (ROOT / "README.md").is_file()  # the install's clone
    assert one(s, "Service.User") == "antre" and one(s, "Service.Group") == "antre"
    assert one(s, "Service.StateDirectory") == "antre" and one(s, "Service.ConfigurationDirectory") == "antre"
    assert one(s, "Service.WorkingDirectory") == "/var/lib/antre"
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""), ("RestrictNamespaces", "yes"),
                       ("LockPersonality", "yes"), ("RestrictSUIDSGID", "yes"), ("ProtectKernelModules", "yes"),
                       ("SystemCallArchitectures", "native"), ("UMask", "0077")]:
        assert one(s, f"Service.{key}") == value, key
    assert s["Service.SystemCallFilter"][0] == "@system-service"
    assert "~@privileged @resources" in s["Service.SystemCallFilter"]
    assert set(one(s, "Service.RestrictAddressFamilies").split()) <= {"AF_UNIX", "AF_INET", "AF_INET6",
                                                                       "AF_NETLINK"}
    argv = one(s, "Service.ExecStart").replace("${ANTRE_LOBBY}", "lobby-1").split()
    assert argv[0] == "/opt/antre/venv/bin/antre"
    invocation = parse(argv[1:])  # the command line this antre accepts
    config = [a for a in argv if a.startswith("/etc/antre/")]
    assert config and all(c.endswith(".toml") for c in config), argv
    if role in LONG_RUNNING:
        assert one(s, "Service.Type") == "notify" and int(one(s, "Service.WatchdogSec")) > 0
        assert "78" in one(s, "Service.RestartPreventExitStatus").split()
        assert one(s, "Install.WantedBy") == "multi-user.target"
        assert invocation.command.path == (role, "run")
    if role == "central":
        assert "4" in one(s, "Service.RestartPreventExitStatus").split()  # another central owns the site
        assert "adjtimex" in s["Service.SystemCallFilter"][-1]  # the clock check reads the kernel's NTP state
        assert "Service.ProtectClock" not in s  # it would deny adjtimex
    if role == "edge":
        assert set(one(s, "Service.SupplementaryGroups").split()) >= {"gpio", "i2c", "spi", "dialout"}
        allowed = " ".join(s["Service.DeviceAllow"])
        for device in ("char-gpiochip", "char-i2c", "char-spi", "char-ttyAMA", "char-ttyUSB"):
            assert device in allowed
        assert one(s, "Service.DevicePolicy") == "closed"


def test_units_and_the_timer_ship_in_the_package() -> None:
    from importlib.resources import files

    for package, name in [("antre.central", "antre-central.service"), ("antre.edge", "antre-edge.service"),
                          ("antre.lobby", "antre-lobby.service"), ("antre.broker", "antre-broker.service"),
                          ("antre.central", "antre-backup.service"), ("antre.central", "antre-backup.timer"),
                          ("antre.console", "antre-console.service")]:
        assert files(package).joinpath(name).is_file(), name
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    for package in ("antre.central", "antre.edge", "antre.lobby", "antre.broker", "antre.console"):
        assert "*.service" in data[package]


def _systemd_analyze() -> str | None:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        return None
    probe = subprocess.run([binary, "security", "--help"], capture_output=True, text=True)
    return binary if "--offline" in probe.stdout else None


def test_units_verify_and_score_below_3(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    binary = _systemd_analyze()
    if binary is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("systemd-analyze with --offline (systemd 250 or newer) is required")
        pytest.skip("systemd-analyze with --offline (systemd 250 or newer) is not installed; the settings are "
                    "checked by test_unit_files_have_the_settings_a_debian_packager_expects")
    antre = Path(sys.executable).parent / "antre"
    scores = []
    for role, unit in sorted(UNITS.items()):
        # verify: with ExecStart pointing at this environment's antre (the unit's /opt/antre/venv may not exist)
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text(encoding="utf-8").replace("/opt/antre/venv/bin/antre", str(antre)))
        verify = subprocess.run([binary, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        problems = [line for line in (verify.stdout + verify.stderr).splitlines() if unit.name in line]
        assert verify.returncode == 0 and not problems, f"{unit.name}: {verify.stdout}{verify.stderr}"
        security = subprocess.run([binary, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                                  timeout=60)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", security.stdout)
        assert match, security.stdout + security.stderr
        scores.append((unit.name, float(match.group(1)), match.group(2)))
    timer = subprocess.run([binary, "verify", str(ROOT / "central" / "antre-backup.timer")], capture_output=True,
                           text=True, timeout=60)
    assert "antre-backup.timer" not in timer.stdout + timer.stderr.replace("antre-backup.service", "")
    notes = getattr(request.config, "antre_notes", [])
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    notes.append(f"systemd-analyze security --offline=yes ({version}): "
                 + ", ".join(f"{name} {score:.1f} {word}" for name, score, word in scores))
    request.config.antre_notes = notes  # type: ignore[attr-defined]
    for name, score, _ in scores:
        assert score < MAX_EXPOSURE, f"{name} scores {score}"


# ------------------------------------------------------------------ logging


@pytest.fixture(autouse=False)
def root_logger() -> object:
    """The root logger's handlers and level, restored after a test that forces its own."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("amqtt", "transitions")}
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)


def test_journal_format_has_priorities_and_no_timestamps(root_logger: object) -> None:
    out = io.StringIO()
    handler = setup_logging(logging.INFO, out, journal=True, force=True)
    try:
        log = logging.getLogger("antre.test")
        log.info("siap")
        log.warning("printer paper_out")
        log.error("gagal\ndetail")
        logging.getLogger("amqtt.broker").info("noise")  # third-party INFO is quieted
        logging.getLogger("transitions.core").info("noise")
        logging.getLogger("amqtt.broker").warning("kept")
    finally:
        assert handler is not None
        logging.getLogger().removeHandler(handler)
    assert out.getvalue().splitlines() == [
        "<6>antre.test: siap", "<4>antre.test: printer paper_out", "<3>antre.test: gagal", "<3>detail",
        "<4>amqtt.broker: kept",
    ]
    assert [syslog_priority(level) for level in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]
    assert isinstance(handler.formatter, JournalFormatter)


def test_plain_format_off_the_journal_and_journal_stream_detection(tmp_path: Path, root_logger: object) -> None:
    log_file = tmp_path / "err.log"
    with open(log_file, "w") as stream:
        st = os.fstat(stream.fileno())
        assert journal_stream(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not journal_stream(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})  # redirected elsewhere
        assert not journal_stream(stream, {})
        assert not journal_stream(stream, {"JOURNAL_STREAM": "garbage"})
    out = io.StringIO()
    handler = setup_logging(logging.INFO, out, force=True)  # a StringIO is never the journal
    try:
        logging.getLogger("antre.test").info("siap")
    finally:
        assert handler is not None
        logging.getLogger().removeHandler(handler)
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO antre.test: siap$", out.getvalue().strip())


# ------------------------------------------------------------ sd_notify, watchdog


class NotifySocket:
    """What a service manager receives on ``$NOTIFY_SOCKET``."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.path = path
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, OSError):
                continue

    def fields(self) -> list[str]:
        return [f for message in list(self.messages) for f in message.split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_notifier_speaks_sd_notify_on_path_and_abstract_sockets(tmp_path: Path) -> None:
    sink = NotifySocket(str(tmp_path / "notify"))
    try:
        n = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())})
        assert n.enabled and n.watchdog_s == 3.0
        assert n.ready("serving") and n.ready("again") and n.ping() and n.stopping()
        wait_for(lambda: len(sink.messages) >= 4, 5, "four notifications")
        assert sink.messages[0] == "READY=1\nSTATUS=serving"
        assert sink.messages[1] == "STATUS=again"  # READY=1 once
        assert sink.fields()[-2:] == ["WATCHDOG=1", "STOPPING=1"]
    finally:
        sink.close()
    abstract = f"\0antre-test-{os.getpid()}"
    sink = NotifySocket(abstract)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + abstract[1:]}).notify("STATUS=abstract")
        wait_for(lambda: sink.messages == ["STATUS=abstract"], 5, "the abstract socket's message")
    finally:
        sink.close()
    assert not Notifier({}).enabled and not Notifier({}).ready()
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"}).watchdog_s is None


def test_watchdog_pings_only_while_the_loop_makes_progress(tmp_path: Path) -> None:
    sink = NotifySocket(str(tmp_path / "notify"))
    progress = Progress()
    try:
        n = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "300000"})
        dog = Watchdog(n, lambda: progress.recent(0.15)).start()
        assert dog.interval == pytest.approx(0.1)
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(0.02):
                progress.touch()

        worker = threading.Thread(target=loop, daemon=True)
        worker.start()
        wait_for(lambda: dog.pings >= 3, 5, "pings while the loop turns")
        stop.set()  # the loop hangs
        worker.join(2)
        wait_for(lambda: dog.missed >= 1, 5, "a check that finds the loop stalled")
        pings, missed = dog.pings, dog.missed
        wait_for(lambda: dog.missed >= missed + 3, 5, "three more stalled checks")
        assert dog.pings == pings  # no more pings: systemd would restart the service
        dog.stop()
        assert sink.fields().count("WATCHDOG=1") == dog.pings
    finally:
        sink.close()
    assert Watchdog(Notifier({}), lambda: True).start().interval is None  # not under systemd: no thread


# ------------------------------------------------ the central under systemd's conditions

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
MDWE_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(97)
os.execv(sys.argv[1], sys.argv[1:])
"""


def _mdwe_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", MDWE_WRAPPER, sys.executable, "-c", "pass"], timeout=30)
    return probe.returncode == 0


def test_central_under_systemd_conditions(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """READY=1, WATCHDOG=1, journal lines, STOPPING=1; W^X memory like MemoryDenyWriteExecute=yes."""
    site = Site(tmp_path, free_port())
    # the clock check on, as in production: its adjtimex through ctypes under W^X memory too
    site.config_path.write_text(site.config_path.read_text().replace("require_clock_sync = false",
                                                                     "require_clock_sync = true"))
    broker = BrokerProc("embedded", site)
    broker.start()
    sink = NotifySocket(str(tmp_path / "notify"))
    log_path = tmp_path / "central.log"
    argv = [sys.executable, "-m", "antre", "central", "--config", str(site.config_path)]
    mdwe = _mdwe_available()
    if mdwe:
        argv = [sys.executable, "-c", MDWE_WRAPPER, *argv]
    central = None
    try:
        with open(log_path, "wb") as out:
            st = os.fstat(out.fileno())
            env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": sink.path,
                   "WATCHDOG_USEC": "1500000", "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
            env.pop("WATCHDOG_PID", None)
            central = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: "READY=1" in sink.fields() or central.poll() is not None, 30, "READY=1")
        assert central.poll() is None, log_path.read_text()
        ready = next(m for m in sink.messages if "READY=1" in m)
        assert "STATUS=serving site test" in ready
        wait_for(lambda: sink.fields().count("WATCHDOG=1") >= 2, 10, "watchdog pings")
        kiosk = Device(site, Role.KIOSK, "k1")
        try:
            reply = kiosk.request(m.TakeTicket(id="k1-00000001", service="ktp"))
        finally:
            kiosk.close()
        # this machine's clock may or may not be NTP-synchronised: the answer follows the kernel
        expected = "issued" if kernel_clock().synced else "clock_unsynced"
        assert reply.code == expected, (reply, log_path.read_text())
        central.send_signal(signal.SIGTERM)
        assert central.wait(30) == 0, log_path.read_text()
        assert "STOPPING=1" in sink.fields()
        lines = log_path.read_text().splitlines()
        assert any(line.startswith("<6>antre.central.runner: antre central ready") for line in lines), lines
        assert all(re.match(r"^<[0-7]>", line) for line in lines), lines  # priorities on every line
        assert not any(re.search(r"\d\d:\d\d:\d\d,\d{3}", line) for line in lines)  # no duplicate timestamps
    finally:
        if central is not None and central.poll() is None:
            central.kill()
        sink.close()
        broker.stop()
    notes = getattr(request.config, "antre_notes", [])
    notes.append("central under systemd conditions: READY=1, WATCHDOG=1, journal priorities, STOPPING=1; "
                 + ("with W^X memory (PR_SET_MDWE, as MemoryDenyWriteExecute=yes)" if mdwe
                    else "W^X memory not tested (the kernel has no PR_SET_MDWE)"))
    request.config.antre_notes = notes  # type: ignore[attr-defined]


def test_ctypes_adjtimex_works_under_mdwe() -> None:
    """The clock check (ctypes) in a process whose memory is W^X, as the central's unit makes it."""
    if not _mdwe_available():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3 or newer)")
    code = "from antre.central.clocksync import kernel_clock; s = kernel_clock(); assert s.error is None, s; print(s)"
    out = subprocess.run([sys.executable, "-c", MDWE_WRAPPER, sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 0 and "ClockState(synced=" in out.stdout, out.stderr
    assert ctypes.sizeof(ctypes.c_long) in (4, 8)
