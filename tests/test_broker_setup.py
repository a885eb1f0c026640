"""ACL model, credentials and the generated Mosquitto configuration."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from broker import credentials as creds
from broker.acl import Access, Identity, allowed, filter_within, mosquitto_acl, topic_matches
from broker.mosquitto import ListenerSettings, write_config_dir
from broker.topics import Role
from central.config import SiteConfig

G1 = Identity(Role.GERAI, "g1")
K1 = Identity(Role.KIOSK, "k1")
LOBBY = Identity(Role.LOBBY, "lobby-1")
CENTRAL = Identity(Role.CENTRAL)


@pytest.mark.parametrize(
    ("who", "access", "topic", "ok"),
    [
        (G1, Access.WRITE, "antre/v1/test/gerai/g1/cmd", True),
        (G1, Access.WRITE, "antre/v1/test/gerai/g1/presence", True),
        (G1, Access.WRITE, "antre/v1/test/gerai/g1/health", True),
        (G1, Access.WRITE, "antre/v1/test/gerai/g2/cmd", False),
        (G1, Access.WRITE, "antre/v1/test/gerai/g1/state", False),
        (G1, Access.WRITE, "antre/v1/other/gerai/g1/cmd", False),
        (G1, Access.READ, "antre/v1/test/gerai/g1/state", True),
        (G1, Access.READ, "antre/v1/test/gerai/g1/print", True),
        (G1, Access.READ, "antre/v1/test/gerai/g2/state", False),
        (G1, Access.READ, "antre/v1/test/gerai/+/state", False),
        (G1, Access.READ, "antre/v1/test/#", False),
        (G1, Access.READ, "antre/v1/test/gerai/g1/cmd", False),
        (K1, Access.READ, "antre/v1/test/kiosk/k1/print", True),
        (K1, Access.WRITE, "antre/v1/test/kiosk/k1/cmd", True),
        (K1, Access.WRITE, "antre/v1/test/gerai/g1/cmd", False),
        (LOBBY, Access.READ, "antre/v1/test/board", True),
        (LOBBY, Access.READ, "antre/v1/test/announce", True),
        (LOBBY, Access.WRITE, "antre/v1/test/board", False),
        (LOBBY, Access.WRITE, "antre/v1/test/gerai/g1/cmd", False),
        (LOBBY, Access.WRITE, "antre/v1/test/lobby/lobby-1/presence", True),
        (CENTRAL, Access.WRITE, "antre/v1/test/gerai/g1/state", True),
        (CENTRAL, Access.READ, "antre/v1/test/+/+/cmd", True),
        (CENTRAL, Access.READ, "antre/v1/other/board", False),
    ],
)
def test_acl(who: Identity, access: Access, topic: str, ok: bool) -> None:
    assert allowed("test", who, access, topic) is ok


def test_filter_helpers() -> None:
    assert topic_matches("a/b/c", "a/+/c") and topic_matches("a/b/c", "a/#") and not topic_matches("a/b", "a/b/c")
    assert filter_within("a/b/c", "a/#") and not filter_within("a/#", "a/b/c") and not filter_within("a/+", "a/b")


@pytest.mark.parametrize("bad", ["gerai", "gerai.", "gerai.G1", "central.x", "robot.r1", "gerai.g1.x"])
def test_usernames_are_parsed_strictly(bad: str) -> None:
    with pytest.raises(ValueError):
        Identity.parse(bad)
    assert Identity.parse("gerai.g1") == G1 and Identity.parse("central") == CENTRAL


def test_password_hash_matches_mosquitto_format() -> None:
    # A line written by `mosquitto_passwd -b pw user1 secret123` (Mosquitto 2.0.11)
    line = ("$7$101$XRgOZWOntQu7sCyd$NOuCp96oc41Uskgf0EznQNA/ybhLwy2fc1DNUXVPTAolO6h52aYeRVgWhnl5"
            "GAeMy4Ccq3tfsxdQtpHJ3y/aTA==")
    assert creds.verify_password("secret123", line)
    assert not creds.verify_password("secret124", line)
    ours = creds.hash_password("geheim-geheim-1")
    assert ours.startswith("$7$101$") and creds.verify_password("geheim-geheim-1", ours)
    assert not creds.verify_password("x", "$6$not$ours")


def test_credentials_are_generated_once_and_kept(small_site: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "credentials.toml"
    first = creds.ensure(path, "test", small_site.identities()[:3])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(set(first.secrets.values())) == 3 and all(len(v) >= 32 for v in first.secrets.values())
    second = creds.ensure(path, "test", small_site.identities())
    for user, secret in first.secrets.items():
        assert second.secrets[user] == secret  # existing devices keep their secret
    assert set(second.secrets) == {who.username for who in small_site.identities()}
    with pytest.raises(creds.CredentialsError, match="site 'test', not 'other'"):
        creds.ensure(path, "other", [])


def test_bad_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('site = "test"\n[secrets]\n"gerai.g1" = "short"\n', encoding="utf-8")
    with pytest.raises(creds.CredentialsError, match="at least 16"):
        creds.load(path)
    with pytest.raises(creds.CredentialsError, match="not found"):
        creds.load(tmp_path / "none.toml")


def test_mosquitto_config_dir(small_site: SiteConfig, tmp_path: Path) -> None:
    secrets = creds.ensure(tmp_path / "credentials.toml", "test", small_site.identities())
    out = tmp_path / "mosq"
    write_config_dir(out, "test", small_site.identities(), secrets, ListenerSettings("192.0.2.10", 1884),
                     persistence_dir=tmp_path / "data")
    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "set_tcp_nodelay true" in conf
    assert "listener 1884 192.0.2.10" in conf and f"password_file {out.resolve()}/passwd" in conf
    passwd = (out / "passwd").read_text()
    for who in small_site.identities():
        line = next(x for x in passwd.splitlines() if x.startswith(who.username + ":"))
        assert creds.verify_password(secrets.password(who), line.split(":", 1)[1])
        assert secrets.password(who) not in passwd  # hashes only
    assert stat.S_IMODE((out / "passwd").stat().st_mode) == 0o640
    acl = (out / "acl").read_text()
    assert acl == mosquitto_acl("test", small_site.identities())
    assert "user gerai.g1\ntopic write antre/v1/test/gerai/g1/cmd\n" in acl
    assert "topic readwrite antre/v1/test/#" in acl


def test_tls_listener(small_site: SiteConfig, tmp_path: Path) -> None:
    secrets = creds.ensure(tmp_path / "credentials.toml", "test", small_site.identities())
    write_config_dir(tmp_path / "m", "test", small_site.identities(), secrets,
                     ListenerSettings("0.0.0.0", 8883, "/etc/ca.pem", "/etc/cert.pem", "/etc/key.pem"))
    conf = (tmp_path / "m" / "mosquitto.conf").read_text()
    assert "cafile /etc/ca.pem" in conf and "keyfile /etc/key.pem" in conf and "tls_version tlsv1.2" in conf
