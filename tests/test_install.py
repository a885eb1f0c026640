"""Each deployable installs from the built wheel into a fresh venv, outside the checkout, and runs.

One wheel is built from a copy of the tree (the files git would commit), then
each extra is installed into its own new virtual environment (no pip inside:
the test's pip installs into it with ``--python``, reusing pip's cache), and
its command runs from a directory outside the checkout with no PYTHONPATH:

- ``embedded-broker``: ``antre broker`` on a free port until SIGTERM;
- ``central``: ``antre central`` against it until "antre central ready", then
  ``/healthz`` and ``/metrics``, ``antre status``, ``antre backup`` and ``antre report --xlsx`` from
  the same venv;
- ``edge`` (a gerai): ``antre edge provision --mock`` and ``antre edge selftest``; no
  pygame, no amqtt, and its size (site-packages) is printed;
- ``lobby``: ``antre lobby render --sample`` of the packaged example site;
- ``firmware``: ``antre firmware config`` and ``deploy --dry-run``;
- ``demo``: ``antre demo --engine-only``.

The figures appear in the test summary.  ``-m "not install"`` leaves these out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SMALL_SITE
from tests.harness import free_port, port_open, wait_for

pytestmark = pytest.mark.install

INSTALL_TIMEOUT = 900


def _note(request: pytest.FixtureRequest, text: str) -> None:
    print(text)
    notes = getattr(request.config, "antre_notes", [])
    notes.append(text)
    request.config.antre_notes = notes  # type: ignore[attr-defined]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def _source_files() -> list[str]:
    """The files a commit of this tree would hold (tracked, and new ones not ignored)."""
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True)
        return [name for name in out.stdout.decode().split("\0") if name]
    skip = {".venv", ".git", "build", ".mypy_cache", ".pytest_cache", ".hypothesis", ".cache", "var", "dist"}
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if not (set(p.relative_to(ROOT).parts) & skip) and (p.is_file() or p.is_symlink())
            and "__pycache__" not in p.parts and not p.name.endswith(".egg-info")]


def _pip(*args: str, cwd: Path | None = None) -> None:
    """pip of the test's environment (its cache, its index settings); output shown on failure only."""
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT, cwd=cwd, env=_clean_env())
    if proc.returncode != 0:
        raise AssertionError(f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in _source_files():
        origin = ROOT / name
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
        elif origin.is_file():
            shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    _pip("wheel", "--no-deps", "-w", str(out), str(src))
    (built,) = out.glob("antre-*.whl")
    _note(request, f"install: built {built.name} ({built.stat().st_size // 1024} KiB) in "
                   f"{time.monotonic() - started:.1f} s")
    return built


class Venv:
    def __init__(self, path: Path, work: Path) -> None:
        self.path, self.work = path, work
        self.python = path / "bin" / "python"
        self.antre = path / "bin" / "antre"

    def run(self, *args: str, timeout: float = 120, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.antre), *args], cwd=self.work, capture_output=True, text=True,
                              timeout=timeout, env=env or _clean_env())
        if check and proc.returncode != 0:
            raise AssertionError(f"antre {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen([str(self.antre), *args], cwd=self.work, stdout=out, stderr=subprocess.STDOUT,
                                    env=_clean_env(PYTHONUNBUFFERED="1"))

    def distributions(self) -> dict[str, str]:
        code = ("import importlib.metadata as m, json, re; print(json.dumps("
                "{re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version for d in m.distributions()}))")
        out = subprocess.run([str(self.python), "-c", code], capture_output=True, text=True, check=True,
                             cwd=self.work, env=_clean_env())
        return dict(json.loads(out.stdout))

    def site_packages_bytes(self) -> int:
        (site,) = (self.path / "lib").glob("python3*/site-packages")
        return sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def install(wheel: Path, tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Iterator[dict[str, Venv]]:
    """``install[extra]``: a fresh venv with ``antre[extra]`` from the wheel (made on first use)."""
    venvs: dict[str, Venv] = {}

    class Installer(dict[str, Venv]):
        def __missing__(self, extra: str) -> Venv:
            base = tmp_path_factory.mktemp(f"venv-{extra}")
            path, work = base / "venv", base / "work"
            work.mkdir()
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
            _pip("--python", str(path / "bin" / "python"), "install", f"antre[{extra}] @ {wheel.as_uri()}",
                 cwd=work)
            venv = Venv(path, work)
            _note(request, f"install: antre[{extra}] into a fresh venv in {time.monotonic() - started:.1f} s: "
                           f"{len(venv.distributions())} distributions, "
                           f"{venv.site_packages_bytes() / 1e6:.1f} MB in site-packages")
            self[extra] = venv
            return venv

    yield Installer(venvs)


def _site_file(directory: Path, broker_port: int, metrics_port: int) -> Path:
    """A site whose paths are relative to the file (resolved against its directory)."""
    path = directory / "site.toml"
    path.write_text(SMALL_SITE + f"""
[[lobby]]
id = "lobby-1"
name = "Layar Lobi"

[central]
require_clock_sync = false
metrics_port = {metrics_port}

[broker]
host = "127.0.0.1"
port = {broker_port}
bind = "127.0.0.1"
credentials = "credentials.toml"

[store]
path = "var/central.db"

[console]
database = "var/console.db"
""", encoding="utf-8")
    return path


def _healthz(port: int) -> dict[str, object] | None:
    """The body of a 200 answer of /healthz (None for a 503: not yet serving)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError:
        return None


def _stop(proc: subprocess.Popen[bytes], log: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"did not stop on SIGTERM:\n{log.read_text(errors='replace')}") from None


def test_embedded_broker_and_central_extras_run(install: dict[str, Venv], tmp_path: Path) -> None:
    broker_venv, central_venv = install["embedded-broker"], install["central"]
    assert "amqtt" not in central_venv.distributions() and "pygame" not in central_venv.distributions()
    assert "prometheus-client" in central_venv.distributions()
    central_venv.run("central", "--help")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    port, metrics_port = free_port(), free_port()
    site = _site_file(site_dir, port, metrics_port)
    broker_log, central_log = tmp_path / "broker.log", tmp_path / "central.log"
    broker = broker_venv.popen("broker", "--config", str(site), log=broker_log)
    central = None
    try:
        wait_for(lambda: port_open(port) or broker.poll() is not None, 30, "the embedded broker to listen")
        assert broker.poll() is None, broker_log.read_text()
        assert (site_dir / "credentials.toml").exists()  # relative to the site file, not the working directory
        central = central_venv.popen("central", "--config", str(site), log=central_log)
        wait_for(lambda: "antre central ready" in central_log.read_text() or central.poll() is not None, 60,
                 "the central to be ready")
        assert central.poll() is None, central_log.read_text()
        assert (site_dir / "var" / "central.db").exists()
        health = wait_for(lambda: _healthz(metrics_port), 10, "/healthz to say ok")
        assert health["status"] == "ok" and health["ready"] is True
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert "antre_ready 1.0" in metrics and "antre_commit_seconds_bucket" in metrics
        status = central_venv.run("status", "--config", str(site), "--wait", "0", check=False)
        assert status.returncode == 1, status.stderr  # the central serves; no gerai has ever connected
        assert "central   online" in status.stdout and "gerai g1" in status.stdout, status.stdout
        backup = central_venv.run("backup", "--config", str(site))
        assert "integrity ok" in backup.stdout and (site_dir / "var" / "backups").is_dir()
        # the reports of the central extra, XLSX included (openpyxl), beside the running central
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
        report = central_venv.run("report", "--config", str(site), "--day", today, "--xlsx", str(tmp_path / "r.xlsx"))
        assert "Laporan MPP Uji" in report.stdout and (tmp_path / "r.xlsx").stat().st_size > 5000
        assert _stop(central, central_log) == 0, central_log.read_text()
        central = None
        assert _stop(broker, broker_log) == 0, broker_log.read_text()
    finally:
        for proc in (central, broker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_gerai_extra_has_no_pygame_nor_amqtt_and_runs_its_selftest(install: dict[str, Venv], tmp_path: Path,
                                                                    request: pytest.FixtureRequest) -> None:
    edge = install["edge"]
    dists = edge.distributions()
    forbidden = {"pygame", "amqtt", "prometheus-client", "typer", "pydantic", "psutil"} & set(dists)
    assert not forbidden, f"the gerai install pulls {sorted(forbidden)}"
    from tests.harness import running_site

    device = tmp_path / "g1.toml"
    with running_site("mosquitto", tmp_path / "site") as stack:  # the selftest's round trip needs a central
        edge.run("edge", "provision", "--site", "test", "--id", "g1", "--broker-host", "127.0.0.1",
                 "--broker-port", str(stack.site.port), "--credentials", str(stack.site.credentials_path),
                 "--printer", "/dev/serial0", "--service", "ktp", "--mock", "--timezone", "Asia/Makassar",
                 "--out", str(device))
        selftest = edge.run("edge", "selftest", "--config", str(device), "--button-timeout", "0", "--mock",
                            "--pattern-seconds", "0.5")
    assert "OK     own topics:" in selftest.stdout and "selftest passed" in selftest.stdout, selftest.stdout
    size = edge.site_packages_bytes()
    _note(request, f"install: the gerai extra antre[edge]: {len(dists)} distributions "
                   f"({', '.join(sorted(dists))}), {size / 1e6:.1f} MB in site-packages, no pygame, no amqtt")
    assert size < 60e6


def test_lobby_extra_renders_the_packaged_example(install: dict[str, Venv], tmp_path: Path) -> None:
    lobby = install["lobby"]
    assert "amqtt" not in lobby.distributions()
    example = subprocess.run([str(lobby.python), "-c", "import antre; print(antre.EXAMPLE_SITE)"],
                             capture_output=True, text=True, check=True, cwd=lobby.work, env=_clean_env()).stdout.strip()
    assert str(ROOT) not in example  # the installed copy, not the checkout
    out = tmp_path / "board.png"
    lobby.run("lobby", "render", "--config", example, "--sample", "--out", str(out), "--size", "640x360")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_firmware_extra_prints_a_board_config(install: dict[str, Venv], tmp_path: Path) -> None:
    from tests.test_firmware import NODE_TOML

    fw = install["firmware"]
    assert "mpremote" in fw.distributions()
    node = tmp_path / "g05.toml"
    node.write_text(NODE_TOML.format(password="p" * 24), encoding="utf-8")
    cfg = json.loads(fw.run("firmware", "config", "--config", str(node)).stdout)
    assert cfg["gerai"] == "g05"
    plan = fw.run("firmware", "deploy", "--port", "/dev/ttyACM0", "--config", str(node), "--dry-run").stdout
    assert ":antre_fw/node.py" in plan


def test_demo_extra_plays_the_morning(install: dict[str, Venv]) -> None:
    demo = install["demo"]
    out = demo.run("demo", "--engine-only", "--date", "2026-11-20", timeout=300).stdout
    assert "A001" in out


def test_console_extra_serves_its_pages_and_assets(install: dict[str, Venv], tmp_path: Path) -> None:
    """The console's templates and vendored htmx ship in the wheel: sign in from a fresh venv."""
    import http.client
    import re

    broker_venv, central_venv, console_venv = install["embedded-broker"], install["central"], install["console"]
    dists = console_venv.distributions()
    assert {"starlette", "uvicorn", "jinja2", "sse-starlette", "openpyxl"} <= set(dists)
    assert "pygame" not in dists and "amqtt" not in dists and "playwright" not in dists
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    port, http_port = free_port(), free_port()
    site = _site_file(site_dir, port, free_port())
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        broker_log = tmp_path / "broker.log"
        procs.append((broker_venv.popen("broker", "--config", str(site), log=broker_log), broker_log))
        wait_for(lambda: port_open(port), 30, "the embedded broker to listen")
        central_log = tmp_path / "central.log"
        procs.append((central_venv.popen("central", "--config", str(site), log=central_log), central_log))
        wait_for(lambda: "antre central ready" in central_log.read_text(), 60, "the central to be ready")
        add = subprocess.run([str(console_venv.antre), "console", "user", "add", "rina", "--role", "supervisor",
                              "--password-stdin", "--config", str(site)], input="rahasia-rina\n", text=True,
                             capture_output=True, cwd=console_venv.work, env=_clean_env(), timeout=60)
        assert add.returncode == 0, add.stderr
        console_log = tmp_path / "console.log"
        procs.append((console_venv.popen("console", "run", "--config", str(site), "--http-port", str(http_port),
                                         log=console_log), console_log))
        wait_for(lambda: "antre console ready" in console_log.read_text(), 60, "the console to be ready")
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        conn.request("GET", "/login")
        answer = conn.getresponse()
        page = answer.read().decode()
        assert answer.status == 200 and "Masuk ke konsol" in page
        cookie = (answer.getheader("set-cookie") or "").split(";", 1)[0]
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        for asset in ("/static/vendor/htmx-2.0.11.min.js", "/static/vendor/htmx-ext-sse-2.2.4.min.js",
                      "/static/console.css", "/static/console.js", "/static/vendor/LICENSE-htmx.txt",
                      "/static/ticket.css", "/static/ticket.js", "/static/skm.css"):
            conn.request("GET", asset)
            got = conn.getresponse()
            assert got.status == 200 and got.read(), asset
        conn.request("POST", "/login", body=f"csrf={token}&name=rina&password=rahasia-rina&next=",
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 303, console_log.read_text()
        conn.close()
        for proc, log in reversed(procs):
            assert _stop(proc, log) == 0, log.read_text()
        procs = []
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
