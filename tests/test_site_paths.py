"""Where a site's files live: /etc/antre and /var/lib/antre by default, and any relative path in a
site or device file relative to that file's directory, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from antre.central.config import load_site, parse_site
from antre.edge.config import load_device
from tests.conftest import KUPANG, SMALL_SITE


def test_defaults_are_the_service_directories() -> None:
    config = parse_site(SMALL_SITE, "site.toml")
    assert config.store.path == "/var/lib/antre/test.db"
    assert config.broker.credentials == "/etc/antre/test-credentials.toml"


def test_relative_paths_are_relative_to_the_site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site_dir = tmp_path / "etc"
    site_dir.mkdir()
    (site_dir / "site.toml").write_text(SMALL_SITE + """
[store]
path = "state/test.db"

[broker]
credentials = "secrets/cred.toml"
cafile = "tls/ca.pem"
certfile = "/srv/tls/cert.pem"
keyfile = "~/key.pem"
""", encoding="utf-8")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    for path in (site_dir / "site.toml", Path("../../etc/site.toml")):
        config = load_site(path)
        assert config.store.path == str(site_dir / "state" / "test.db")
        assert config.broker.credentials == str(site_dir / "secrets" / "cred.toml")
        assert config.broker.cafile == str(site_dir / "tls" / "ca.pem")
        assert config.broker.certfile == "/srv/tls/cert.pem"
        assert config.broker.keyfile == str(Path("~/key.pem").expanduser())
    memory = parse_site(SMALL_SITE + '\n[store]\npath = ":memory:"\n', "s.toml", base=site_dir)
    assert memory.store.path == ":memory:"


def test_the_example_site_keeps_its_files_beside_it() -> None:
    config = load_site(KUPANG)
    assert config.store.path == str(KUPANG.parent / "var" / "kupang.db")
    assert config.broker.credentials == str(KUPANG.parent / "var" / "kupang-credentials.toml")


def test_a_device_files_cafile_is_relative_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = tmp_path / "device.toml"
    device.write_text('[device]\nsite = "kupang"\nid = "g05"\n[broker]\nhost = "10.0.0.2"\n'
                      f'password = "{"p" * 24}"\ncafile = "ca.pem"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    assert load_device(device).broker.cafile == str(tmp_path / "ca.pem")
    device.write_text(device.read_text().replace('cafile = "ca.pem"', 'cafile = "/etc/ssl/ca.pem"'))
    assert load_device(device).broker.cafile == "/etc/ssl/ca.pem"
