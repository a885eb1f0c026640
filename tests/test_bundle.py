"""``antre edge bundle`` on the central: one device's file and QR code, and nothing of the other devices'."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role
from antre.cli import main
from antre.edge.config import parse_device
from tests.harness import Site, free_port


def _bundle(site: Site, tmp_path: Path, *extra: str) -> list[str]:
    return ["edge", "bundle", "--config", str(site.config_path), "--id", "g1", "--broker-host", "192.168.10.2",
            "--out", str(tmp_path / "g1.toml"), *extra]


def test_a_bundle_holds_only_its_devices_secret_and_the_site_time_zone(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    site = Site(tmp_path / "site", free_port())
    assert main(_bundle(site, tmp_path, "--button", "panggil:17:call_next:recall:no_show", "--display", "ssd1306",
                        "--public-display", "max7219-matrix", "--modules", "8", "--serial-port", "/dev/serial0",
                        "--qr", str(tmp_path / "g1.png"))) == 0
    out = capsys.readouterr().out
    text = (tmp_path / "g1.toml").read_text()
    config = parse_device(text, "g1.toml")
    own = site.secrets.password(Identity(Role.GERAI, "g1"))
    assert config.broker.password == own
    assert (config.broker.host, config.broker.port) == ("192.168.10.2", site.port)
    assert (config.device.site, config.device.id, config.device.name) == ("test", "g1", "Gerai 1")
    assert config.device.timezone == "Asia/Makassar"  # the site file's
    assert config.public_display.type == "max7219-matrix" and config.public_display.modules == 8
    others = [pw for user, pw in site.secrets.secrets.items() if pw != own]
    assert len(others) > 5 and not any(pw in text for pw in others), "another identity's secret in the bundle"
    for path in (tmp_path / "g1.toml", tmp_path / "g1.png"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "on the Pi, as root: /opt/antre/venv/bin/antre edge setup --bundle g1.toml" in out


def test_the_qr_code_decodes_to_the_device_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read back with ZXing (as a phone's scanner does): the same device, the same secret."""
    import zxingcpp
    from PIL import Image

    site = Site(tmp_path / "site", free_port())
    assert main(_bundle(site, tmp_path, "--button", "panggil:17:call_next:recall:no_show", "--serial-port",
                        "/dev/serial0", "--qr", str(tmp_path / "g1.png"), "--qr-terminal")) == 0
    out = capsys.readouterr().out
    (found,) = zxingcpp.read_barcodes(Image.open(tmp_path / "g1.png"))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    scanned = parse_device(found.text, "scanned")
    assert scanned == parse_device((tmp_path / "g1.toml").read_text(), "g1.toml")
    assert "█" in out or "▀" in out  # drawn in the terminal too
    assert "QR code: version" in out


def test_a_bundle_for_a_device_the_site_does_not_know_is_refused(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    site = Site(tmp_path / "site", free_port())
    argv = _bundle(site, tmp_path)
    argv[argv.index("g1")] = "g99"
    assert main(argv) == 78
    assert "no gerai or kiosk 'g99' in the site file" in capsys.readouterr().err
    assert not (tmp_path / "g1.toml").exists()
    assert main(["edge", "bundle", "--config", str(site.config_path), "--id", "k1", "--broker-host", "h",
                 "--out", str(tmp_path / "k1.toml")]) == 78  # a kiosk needs its service
    assert main(["edge", "bundle", "--config", str(site.config_path), "--id", "k1", "--broker-host", "h",
                 "--service", "ktp", "--button", "tiket:17:take_ticket", "--out", str(tmp_path / "k1.toml")]) == 0
    assert parse_device((tmp_path / "k1.toml").read_text(), "k1").device.role == "kiosk"
