"""The antre command: help, config check, demo, audit; exit statuses from one error root; --mock."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from antre.cli import main
from tests.conftest import KUPANG, ROOT


def test_help_lists_the_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "antre", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for sub in ("demo", "check-config", "audit"):
        assert sub in out


def test_check_config_summarises_the_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(KUPANG)]) == 0
    out = capsys.readouterr().out
    assert "OK: Mal Pelayanan Publik Kota Kupang (kupang), zone Asia/Makassar (WITA)" in out
    assert "11 agencies" in out


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(KUPANG.read_text(encoding="utf-8").replace('prefix = "B"', 'prefix = "A"'), encoding="utf-8")
    assert main(["check-config", str(bad)]) == 78  # EX_CONFIG
    err = capsys.readouterr().err
    assert f"{bad}: service[1].prefix: prefix 'A' is already used by service 'ktp-el'" in err
    assert "Traceback" not in err


def test_bad_cli_argument_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--date", "20-11-2026"]) == 2
    assert "is not a date like 2026-11-20" in capsys.readouterr().err


def test_demo_plays_a_morning_and_the_audit_reads_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    assert main(["demo", "--engine-only", "--config", str(KUPANG), "--date", "2026-11-20", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Friday 20 November 2026, 08:00-15:00 (istirahat 11:30-13:00) WITA" in out
    assert "calls A001" in out
    assert "\u00abNomor antrean A001, silakan menuju gerai" in out
    assert "dialihkan ke" in out and "out of order" in out and "rapat koordinasi" in out
    assert "Kuota Informasi Paspor dan Kewarganegaraan hari ini (25) sudah habis" in out
    assert "Summary at 12:00 WITA" in out
    assert "events committed durably" in out

    assert main(["audit", "--config", str(KUPANG), "--db", str(db), "--date", "2026-11-20"]) == 0
    trail = capsys.readouterr().out
    assert "2026-11-20 " in trail
    assert "g04: transferred 20261120-D" in trail
    assert "(out_of_order) reason: berkas susulan, sudah antre pagi" in trail
    assert "g05: paused, reason: rapat koordinasi" in trail
    assert "refused take_ticket: quota_exhausted" in trail


def test_storage_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"garbage" * 1000)
    assert main(["audit", "--config", str(KUPANG), "--db", str(db)]) == 3
    assert "storage error" in capsys.readouterr().err


def test_headless_demo_over_mqtt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snaps = tmp_path / "displays"
    assert main(["demo", "--headless", "--duration", "0", "--config", str(KUPANG), "--date", "2026-11-20",
                 "--snapshots", str(snaps)]) == 0
    out = capsys.readouterr().out
    assert "number displays: 13 PNG snapshots in" in out
    assert (snaps / "lobby.png").exists() and "lobby screen:" in out
    assert sorted(p.name for p in snaps.iterdir())[:2] == ["g01.png", "g02.png"]
    printed = int(out.split("kiosk printers (mock, ESC/POS over a pty): ")[1].split()[0])
    issued = int(out.split("tickets issued ")[1].split(",")[0])
    assert printed == issued  # every issued ticket was printed by a kiosk's edge agent
    assert "antre demo (headless): embedded broker on 127.0.0.1:" in out
    assert "Summary at 12:00 WITA" in out
    assert "\u00abNomor antrean A001, silakan menuju gerai" in out
    for line in ("press to reply", "press to gerai display", "press to lobby board", "press to announcement"):
        assert line in out
    assert "press to gerai display  p50" in out  # every call reached its display
    voice = out.split("lobby voice: ")[1].split("\n")[0]
    if "no voice:" not in voice:  # every call of the lobby's room accounted for, none dropped silently
        total = int(voice.split(": ")[1].split(" calls")[0])
        said = int(voice.split("announced ")[1].split(" ")[0])
        stale = int(voice.split("dropped as stale ")[1].split(",")[0])
        chime = int(voice.split("chime only (clip missing) ")[1].split(",")[0])
        waiting = int(voice.split("ended ")[1].split(" ")[0])
        assert said + stale + chime + waiting == total > 0 and chime == 0


def test_the_demo_says_once_how_to_get_a_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In `make demo` no voice pack was found, every clip was skipped with a warning each (30), 202 calls
    were dropped as stale and the summary said "30 calls announced"."""
    import antre.demo
    from antre.central.config import load_site
    from antre.demo import DemoStack, ManualClock

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(antre.demo.shutil, "which", lambda name: None)
    stack = DemoStack(load_site(KUPANG), tmp_path, ManualClock(0.0))
    assert stack._voice_pack("lobby-1") is None
    assert "sudo apt-get install espeak-ng" in stack.voice_note and "does not speak" in stack.voice_note
    assert stack.voice_summary() == "no lobby in the site file"  # not started: nothing to account for


def test_interactive_demo_reads_commands() -> None:
    import io
    import tempfile

    from antre.demo import run_interactive
    from antre.central.config import load_site

    snaps = Path(tempfile.mkdtemp())
    inp = io.StringIO(f"t ktp-el\nt ktp-el elderly\nc g01\nbogus\nc g99\ns\nb g02\nsnap {snaps}\nq\n")
    out = io.StringIO()
    assert run_interactive(load_site(KUPANG), inp, out) == 0
    text = out.getvalue()
    assert "ok: Nomor A001 untuk Perekaman dan Pencetakan KTP-el" in text
    assert "ok: Memanggil A002" in text  # the elderly citizen first
    assert "\u00abNomor antrean A002, silakan menuju gerai 1\u00bb" in text
    assert "unknown command 'bogus'" in text and "unknown gerai 'g99'" in text
    assert "g01: A002  serving" in text
    assert "[display Gerai 2] A001  serving" in text  # the mock button of g02's edge agent called A001
    assert (snaps / "g02.png").exists() and "saved 13 display snapshots and lobby.png" in text


def test_mosquitto_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mosq"
    cred = tmp_path / "cred.toml"
    assert main(["broker", "--config", str(KUPANG), "--credentials", str(cred), "mosquitto-config",
                 "--out", str(out), "--persistence", str(tmp_path / "data")]) == 0  # not this machine's /var/lib
    printed = capsys.readouterr().out
    assert "chown root:mosquitto" in printed
    assert (out / "passwd").exists() and (out / "acl").exists()
    secret = creds_load(cred).password("gerai.g01")
    assert secret not in printed and secret not in (out / "passwd").read_text()


def creds_load(path: Path):  # type: ignore[no-untyped-def]
    from antre.broker.admin.credentials import load

    return load(path)


# ------------------------------------------------------------------ exit statuses: one error root, caught once


def _site(tmp_path: Path) -> Path:
    """A site file and its credentials file in tmp_path; returns the credentials file."""
    from tests.harness import Site, free_port

    return Site(tmp_path, free_port()).credentials_path


def _node(tmp_path: Path, action: str = "call_next") -> Path:
    from tests.test_firmware import NODE_TOML

    node = tmp_path / "node.toml"
    node.write_text(NODE_TOML.format(password="p" * 24).replace('press = "call_next"', f'press = "{action}"'))
    return node


def test_each_kind_of_error_has_its_exit_status_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from antre.central.lease import FencedError

    credentials = _site(tmp_path)
    provision = ["edge", "provision", "--site", "test", "--broker-host", "127.0.0.1", "--out", str(tmp_path / "d")]
    cases: list[tuple[list[str], int, str]] = [
        (["check-config", str(tmp_path / "none.toml")], 78, "antre: config error: "),
        (["edge", "selftest", "--config", str(tmp_path / "none.toml")], 78, "antre: device config error: "),
        (provision + ["--id", "g1", "--credentials", str(tmp_path / "none.toml")], 78,
         "antre: credentials error: "),
        (provision + ["--id", "g9", "--credentials", str(credentials)], 78, "antre: credentials error: "),
        (provision + ["--id", "g1", "--credentials", str(credentials), "--button", "a:99:call_next"], 78,
         "antre: device config error: "),
        (["firmware", "config", "--config", str(_node(tmp_path, "fly"))], 78, "antre: firmware config error: "),
        (["lobby", "say", "A0x", "--gerai", "5"], 78, "antre: option error: 'A0x' is not a ticket number"),
        (["lobby", "render", "--config", str(KUPANG), "--out", str(tmp_path / "b.png"), "--sample", "--lobby",
          "lobby-9"], 78, "antre: option error: --lobby lobby-9: no [[lobby]] with that id"),
        (["demo", "--date", "2026-13-01"], 2, "is not a date like 2026-11-20"),
    ]
    for argv, status, line in cases:
        assert main(argv) == status, argv
        err = capsys.readouterr().err
        assert line in err and "Traceback" not in err, (argv, err)
        if status != 2:
            assert len(err.strip().splitlines()) == 1, err

    db = tmp_path / "broken.db"
    db.write_bytes(b"garbage" * 1000)
    assert main(["audit", "--config", str(KUPANG), "--db", str(db)]) == 3
    assert capsys.readouterr().err.startswith("antre: storage error (corrupt): ")

    def fenced(*args: object, **kwargs: object) -> int:
        raise FencedError("another antre central is serving site kupang")

    monkeypatch.setattr("antre.central.main.run_central", fenced)
    assert main(["central", "run", "--config", str(KUPANG)]) == 4
    assert capsys.readouterr().err == "antre: lease error: another antre central is serving site kupang\n"

    def no_espeak(*args: object, **kwargs: object) -> list[Path]:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")

    monkeypatch.setattr("antre.lobby.voicepack.build", no_espeak)
    assert main(["lobby", "voicepack", "build", "--out", str(tmp_path / "pack")]) == 69
    assert capsys.readouterr().err == "antre: tool error: espeak-ng is not installed (apt-get install espeak-ng)\n"

    monkeypatch.setenv("ANTRE_MOCK", "maybe")
    assert main(["edge", "selftest", "--config", str(tmp_path / "none.toml")]) == 78
    assert "antre: option error: ANTRE_MOCK='maybe': use ANTRE_MOCK=1 (or 0)" in capsys.readouterr().err


def test_every_error_class_has_a_documented_status() -> None:
    import importlib
    import pkgutil

    import antre
    from antre.broker import errors

    for m in pkgutil.walk_packages(antre.__path__, "antre."):
        if not m.name.startswith(("antre.firmware.", "antre.examples", "antre.__main__")):
            try:
                importlib.import_module(m.name)
            except ImportError:  # an optional library of another deployable
                continue
    documented = {errors.EX_FAILURE, errors.EX_USAGE, errors.EX_STORAGE, errors.EX_FENCED, errors.EX_UNAVAILABLE,
                  errors.EX_CONFIG}
    seen, todo = set(), [errors.AntreError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__qualname__)
        assert cls.exit_status in documented, cls
        assert f" {cls.exit_status} " in f" {errors.__doc__} ", cls
        todo.extend(cls.__subclasses__())
    assert {"ConfigError", "EdgeConfigError", "CredentialsError", "StorageError", "FencedError",
            "FirmwareConfigError", "FileConfigError", "UsageError", "OptionError", "MissingToolError"} <= seen
    from antre.central.lease import EXIT_FENCED, FencedError
    from antre.central.store import StorageError

    assert FencedError.exit_status == EXIT_FENCED == errors.EX_FENCED and StorageError.exit_status == 3


def test_the_command_line_catches_the_error_root_only() -> None:
    cli = ROOT / "antre" / "cli"
    for path in cli.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in ("ConfigError", "EdgeConfigError", "CredentialsError", "StorageError", "FencedError",
                     "FirmwareConfigError"):
            assert name not in text, f"{path.name} names {name}: catch AntreError instead"
    assert "except AntreError" in (cli / "__init__.py").read_text(encoding="utf-8")


# ------------------------------------------------------------------ --mock and ANTRE_MOCK


def _device(tmp_path: Path, *extra: str, site: Any = None) -> Path:
    """A device file for real hardware: an SSD1306 display and a printer on a port that does not exist;
    for the broker of ``site`` (a running test site) when given."""
    out = tmp_path / "g1.toml"
    where = ["--credentials", str(_site(tmp_path))] if site is None else [
        "--credentials", str(site.credentials_path), "--broker-port", str(site.port)]
    assert main(["edge", "provision", "--site", "test", "--id", "g1", "--broker-host", "127.0.0.1", *where,
                 "--out", str(out), "--serial-port", "/dev/antre-no-such-port", "--timezone", "Asia/Makassar",
                 *extra]) == 0
    return out


def test_mock_or_antre_mock_selects_mock_hardware_for_the_selftest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.harness import running_site

    with running_site("mosquitto", tmp_path / "site") as stack:
        device = _device(tmp_path, site=stack.site)
        capsys.readouterr()
        monkeypatch.delenv("ANTRE_MOCK", raising=False)
        fast = ["--pattern-seconds", "0.1"]
        assert main(["edge", "selftest", "--config", str(device), *fast]) == 1  # no such display or printer here
        printed = capsys.readouterr().out  # the port is opened by name whenever it appears: not a fixed fault
        assert "FAIL   printer status: unknown (/dev/antre-no-such-port at 19200 baud: not connected: " in printed
        for argv, env in ((["edge", "selftest", "--config", str(device), "--mock"], None),
                          (["edge", "--mock", "selftest", "--config", str(device)], None),
                          (["edge", "selftest", "--config", str(device)], "1")):
            if env is not None:
                monkeypatch.setenv("ANTRE_MOCK", env)
            assert main(argv + fast) == 0, argv
            out = capsys.readouterr().out
            assert "OK     display oled: test pattern shown" in out and "OK     test ticket: ok" in out, out
            assert "selftest passed" in out
        monkeypatch.setenv("ANTRE_MOCK", "0")
        assert main(["edge", "selftest", "--config", str(device), *fast]) == 1


def test_the_hint_printed_by_provision_is_a_command_that_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.harness import running_site

    monkeypatch.delenv("ANTRE_MOCK", raising=False)
    with running_site("mosquitto", tmp_path / "site") as stack:
        _device(tmp_path, "--mock", site=stack.site)
        printed = capsys.readouterr().out
        hint = printed.split("test it at the gerai with: ")[1].strip()
        argv = shlex.split(hint)
        assert argv[0] == "antre" and "--mock" in argv
        assert main(argv[1:]) == 0
    assert "selftest passed" in capsys.readouterr().out


def test_edge_run_with_mock_starts_on_mock_hardware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.harness import Proc, wait_for

    monkeypatch.delenv("ANTRE_MOCK", raising=False)  # the children inherit this environment
    device = _device(tmp_path)
    logs = {}
    for name, extra in (("real", []), ("mock", ["--mock"])):
        proc = Proc(f"edge-{name}", [sys.executable, "-m", "antre", "edge", "run", "--config", str(device), *extra],
                    tmp_path / f"edge-{name}.log")
        proc.start()
        try:
            wait_for(lambda: "antre edge gerai.g1 started" in proc.output() or not proc.alive(), 20, "edge started")
            assert proc.alive(), proc.output()
            proc.signal(signal.SIGTERM)
            assert proc.wait(20) == 0, proc.output()
        finally:
            proc.stop()
        logs[name] = proc.output()
    assert "printer /dev/antre-no-such-port unavailable" in logs["real"]
    assert "unavailable" not in logs["mock"], logs["mock"]
