"""The antre command: help, config check, demo, audit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: service[1].prefix: prefix 'A' is already used by service 'ktp-el'" in err
    assert "Traceback" not in err


def test_bad_cli_argument_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--date", "20-11-2026"])
    assert info.value.code == 2
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


def test_interactive_demo_reads_commands() -> None:
    import io
    import tempfile

    from antre.demo import run_interactive
    from central.config import load_site

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
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chown root:mosquitto" in printed
    assert (out / "passwd").exists() and (out / "acl").exists()
    secret = creds_load(cred).password("gerai.g01")
    assert secret not in printed and secret not in (out / "passwd").read_text()


def creds_load(path: Path):  # type: ignore[no-untyped-def]
    from broker.credentials import load

    return load(path)
