"""ACL model, credentials and the generated Mosquitto configuration.

The last tests run Mosquitto itself on a free loopback port with the generated
configuration: the way the Debian package runs it (started as root, dropping
to the ``mosquitto`` user), and across restarts with persistence on.  CI sets
ANTRE_REQUIRE_ALL, so a missing Mosquitto fails them instead of skipping.
"""

from __future__ import annotations

import grp
import inspect
import os
import pwd
import shutil
import signal
import stat
import tomllib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from antre.cli import main as cli_main
from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Access, Identity, allowed, filter_within, mosquitto_acl, topic_matches
from antre.broker.admin.mosquitto import (
    AUTOSAVE_SECONDS,
    DEFAULT_PERSISTENCE,
    ListenerSettings,
    ownership_commands,
    render_conf,
    set_ownership,
    write_config_dir,
)
from antre.broker.wire.topics import Role
from antre.central.config import SiteConfig
from tests.harness import BrokerProc, Probe, Proc, Site, free_port, port_open, require_mosquitto, wait_for

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
    assert set(second.secrets) == {second.username(who) for who in small_site.identities()}
    assert second.username(small_site.identities()[0]).startswith("central-")  # the central's name is secret
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
    assert "persistence true" in conf and f"persistence_location {(tmp_path / 'data').resolve()}/" in conf
    assert f"autosave_interval {AUTOSAVE_SECONDS}" in conf and "autosave_on_changes false" in conf
    # listener options after the listener line (before it they would open a default listener on 1883)
    assert conf.index("listener 1884") < conf.index("use_username_as_clientid true")
    passwd = (out / "passwd").read_text()
    for who in small_site.identities():
        line = next(x for x in passwd.splitlines() if x.startswith(secrets.username(who) + ":"))
        assert creds.verify_password(secrets.password(who), line.split(":", 1)[1])
        assert secrets.password(who) not in passwd  # hashes only
    assert stat.S_IMODE((out / "passwd").stat().st_mode) == 0o640
    acl = (out / "acl").read_text()
    assert acl == mosquitto_acl("test", [secrets.resolve(who) for who in small_site.identities()])
    assert f"user {secrets.username(CENTRAL)}\ntopic readwrite antre/v1/test/#" in acl
    assert "user gerai.g1\ntopic write antre/v1/test/gerai/g1/cmd\n" in acl
    assert "topic readwrite antre/v1/test/#" in acl


def test_tls_listener(small_site: SiteConfig, tmp_path: Path) -> None:
    secrets = creds.ensure(tmp_path / "credentials.toml", "test", small_site.identities())
    write_config_dir(tmp_path / "m", "test", small_site.identities(), secrets,
                     ListenerSettings("0.0.0.0", 8883, "/etc/ca.pem", "/etc/cert.pem", "/etc/key.pem"),
                     persistence_dir=tmp_path / "data")
    conf = (tmp_path / "m" / "mosquitto.conf").read_text()
    assert "cafile /etc/ca.pem" in conf and "keyfile /etc/key.pem" in conf and "tls_version tlsv1.2" in conf


def test_persistence_is_on_by_default_in_debians_directory() -> None:
    assert inspect.signature(write_config_dir).parameters["persistence_dir"].default == DEFAULT_PERSISTENCE
    conf = render_conf(Path("/etc/mosquitto/antre"), ListenerSettings(), None, Path(DEFAULT_PERSISTENCE))
    assert "persistence true\npersistence_location /var/lib/mosquitto/\n" in conf
    off = render_conf(Path("/etc/mosquitto/antre"), ListenerSettings(), None, None)
    assert "persistence false" in off and "persistence_location" not in off


def test_without_root_the_ownership_commands_are_printed(small_site: SiteConfig, tmp_path: Path) -> None:
    secrets = creds.ensure(tmp_path / "credentials.toml", "test", small_site.identities())
    out, data = tmp_path / "etc", tmp_path / "data"
    write_config_dir(out, "test", small_site.identities(), secrets, ListenerSettings(), persistence_dir=data)
    before = {p.name: (p.stat().st_uid, p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in out.iterdir()}
    result = set_ownership(out, data, "mosquitto", as_root=False)
    assert result.done == []
    pending = result.pending
    group = grp.getgrgid(pwd.getpwnam("mosquitto").pw_gid).gr_name if _has_account("mosquitto") else "mosquitto"
    assert pending == ownership_commands(out, data) == [
        f"chown root:{group} {out} {out}/passwd {out}/acl",
        f"chmod 0750 {out}",
        f"chmod 0640 {out}/passwd {out}/acl",
        f"install -d -o mosquitto -g {group} -m 0700 {data}",
    ]
    after = {p.name: (p.stat().st_uid, p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in out.iterdir()}
    assert after == before  # nothing touched


def _has_account(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.mark.parametrize("form", ["options-after-subcommand", "options-before-subcommand"])
def test_mosquitto_config_cli_forms(tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str) -> None:
    site = Site(tmp_path, 1883)
    out, data = tmp_path / "etc", tmp_path / "data"
    opts = ["--config", str(site.config_path), "--port", "18830", "--bind", "192.0.2.7"]
    tail = ["--out", str(out), "--persistence", str(data)]
    argv = (["broker", "mosquitto-config", *opts, *tail] if form == "options-after-subcommand"
            else ["broker", *opts, "mosquitto-config", *tail])
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    conf = (out / "mosquitto.conf").read_text()
    assert "listener 18830 192.0.2.7" in conf and f"persistence_location {data.resolve()}/" in conf
    assert "chown root:" in printed
    assert "systemctl restart mosquitto" in printed
    assert site.secrets.password(Identity(Role.CENTRAL)) not in printed


def test_mosquitto_config_cli_needs_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["broker", "mosquitto-config", "--out", str(tmp_path / "etc")]) == 2
    assert "--config SITE.toml is required" in capsys.readouterr().err


def test_mosquitto_config_keeps_the_owner_of_the_credentials_file(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not _has_account("mosquitto"):
        pytest.skip("needs root and a 'mosquitto' account (CI runs as root)")
    site = Site(tmp_path, 1883)
    entry = pwd.getpwnam("mosquitto")  # any other account stands for the central's
    os.chown(site.credentials_path, entry.pw_uid, entry.pw_gid)
    # a new identity makes the command rewrite the credentials file
    data = tomllib.loads(site.config_path.read_text())
    data["monitor"].append({"id": "t3"})
    site.config_path.write_text(tomli_w.dumps(data))
    assert cli_main(["broker", "mosquitto-config", "--config", str(site.config_path),
                     "--out", str(tmp_path / "etc"), "--persistence", str(tmp_path / "data")]) == 0
    st = site.credentials_path.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (entry.pw_uid, entry.pw_gid, 0o600)
    assert "monitor.t3" in creds.load(site.credentials_path).secrets


# ----------------------------------------------------------------- Mosquitto itself

CENTRAL = Identity(Role.CENTRAL)
ALL_CMD = "antre/v1/test/+/+/cmd"


def _probe(site: Site, who: Identity, **kwargs: object) -> Probe:
    return Probe(site.port, site.secrets.username(who), site.secrets.password(who), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def packaged_dir() -> Iterator[Path]:
    """A directory the 'mosquitto' user can traverse (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="antre-packaged-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_packaged_mosquitto_starts_as_the_mosquitto_user(
    packaged_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As Debian's service does: started as root, no `user` option, dropping to 'mosquitto'."""
    binary = require_mosquitto()
    if os.geteuid() != 0:
        pytest.skip("starting Mosquitto the packaged way needs root (CI runs as root)")
    if not _has_account("mosquitto"):
        pytest.fail("Mosquitto is installed but there is no 'mosquitto' account")
    secrets_dir = packaged_dir / "site"
    secrets_dir.mkdir(mode=0o700)
    site = Site(secrets_dir, free_port())
    out, data = packaged_dir / "etc", packaged_dir / "data"
    assert cli_main(["broker", "mosquitto-config", "--config", str(site.config_path), "--out", str(out),
                     "--persistence", str(data), "--port", str(site.port), "--bind", "127.0.0.1"]) == 0
    printed = capsys.readouterr().out
    assert "ownership set" in printed and "Not done here" not in printed
    conf = (out / "mosquitto.conf").read_text()
    assert "\nuser " not in conf
    mosq = pwd.getpwnam("mosquitto")
    expected = {out: (0, mosq.pw_gid, 0o750), out / "passwd": (0, mosq.pw_gid, 0o640),
                out / "acl": (0, mosq.pw_gid, 0o640), data: (mosq.pw_uid, mosq.pw_gid, 0o700)}
    for path, owner in expected.items():
        st = path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == owner, path

    proc = Proc("mosquitto-packaged", [binary, "-c", str(out / "mosquitto.conf")], packaged_dir / "mosquitto.log")
    proc.start()
    try:
        wait_for(lambda: port_open(site.port) or not proc.alive(), 15, "Mosquitto to listen")
        assert proc.alive(), proc.output()
        import psutil  # type: ignore[import-untyped]

        assert proc.proc is not None
        assert psutil.Process(proc.proc.pid).username() == "mosquitto"
        central = _probe(site, CENTRAL, subscribe=[ALL_CMD]).start()  # passwd and acl were readable
        g1 = _probe(site, Identity(Role.GERAI, "g1"), clean_session=True).start()
        g1.publish("antre/v1/test/gerai/g1/cmd", b"hello")
        central.wait(lambda: central.messages(), 10, "the command through the packaged Mosquitto")
        central.stop()
        g1.stop()
    finally:
        proc.stop()
        print(proc.output())
    assert (data / "mosquitto.db").exists(), "Mosquitto, as 'mosquitto', could not write its database"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[BrokerProc]:
    require_mosquitto()
    proc = BrokerProc("mosquitto", Site(tmp_path, free_port()))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        print(proc.output())


def _restart(broker: BrokerProc, sig: int = signal.SIGTERM) -> None:
    broker.signal(sig)
    broker.wait(10)
    broker.start()


@pytest.mark.parametrize("how", ["restart", "crash-after-autosave"])
def test_a_command_queued_for_the_offline_central_survives_mosquitto(mosquitto: BrokerProc, how: str) -> None:
    site = mosquitto.site
    central = _probe(site, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
    central.stop()
    g1 = _probe(site, Identity(Role.GERAI, "g1"), clean_session=True).start()
    g1.publish("antre/v1/test/gerai/g1/cmd", b"queued while the central is offline")
    g1.stop()
    if how == "restart":
        _restart(mosquitto, signal.SIGTERM)  # a clean stop saves the database
    else:
        db = site.dir / "mosquitto-data" / "mosquitto.db"
        since = db.stat().st_mtime_ns if db.exists() else 0
        wait_for(lambda: db.exists() and db.stat().st_mtime_ns > since, AUTOSAVE_SECONDS * 3, "an autosave")
        _restart(mosquitto, signal.SIGKILL)  # a crash keeps what the last autosave wrote
    central = _probe(site, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
    try:
        assert central.session_present == [True]
        got = central.wait(lambda: central.messages(), 10, "the queued command after the restart")
        assert [d.payload for d in got] == [b"queued while the central is offline"]
    finally:
        central.stop()


def test_a_burst_across_a_mosquitto_restart_loses_nothing_it_acknowledged(mosquitto: BrokerProc) -> None:
    """200 commands from 4 gerai; Mosquitto is restarted (SIGTERM) after the first 60."""
    site = mosquitto.site
    per_device, before_restart = 50, 15
    central = _probe(site, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
    devices = {f"g{i}": _probe(site, Identity(Role.GERAI, f"g{i}"), clean_session=True).start()
               for i in range(1, 5)}
    sent: dict[str, list[tuple[int, bytes]]] = {name: [] for name in devices}
    at_gate = threading.Barrier(len(devices) + 1)
    restarting = threading.Event()

    def burst(name: str, dev: Probe) -> None:
        for i in range(per_device):
            if i == before_restart:
                at_gate.wait(30)
                restarting.wait(30)
            payload = f"{name}-{i:03d}".encode()
            info = dev.client.publish(f"antre/v1/test/gerai/{name}/cmd", payload, qos=1)
            sent[name].append((info.mid, payload))
            try:
                info.wait_for_publish(5)  # paces the burst by the broker's round trip while it is up
            except (RuntimeError, ValueError):
                pass  # not connected: paho keeps the message and sends it after reconnecting

    threads = [threading.Thread(target=burst, args=(n, d), daemon=True) for n, d in devices.items()]
    try:
        for t in threads:
            t.start()
        at_gate.wait(30)
        mosquitto.signal(signal.SIGTERM)
        restarting.set()
        mosquitto.wait(10)
        before = sum(len(devices[n].acked) for n in devices)
        mosquitto.start()
        for t in threads:
            t.join(60)
        total = sum(len(v) for v in sent.values())
        assert total == 200

        def acked() -> set[bytes]:
            return {p for name, items in sent.items() for mid, p in items if mid in devices[name].acked}

        def received() -> set[bytes]:
            return {d.payload for d in central.messages()}

        # paho resends what the old broker never acknowledged: in the end the broker acknowledges all
        wait_for(lambda: len(acked()) == total, 30, "every command acknowledged by Mosquitto")
        wait_for(lambda: acked() <= received(), 30, "every acknowledged command at the central")
        lost = acked() - received()
        print(f"burst across a Mosquitto restart: sent {total}, acknowledged {len(acked())} "
              f"({before} before the restart), "
              f"received {len(received())}, lost {len(lost)}")
        assert not lost
        assert central.disconnects >= 1  # the restart really happened under the central
    finally:
        for dev in devices.values():
            dev.stop()
        central.stop()


def test_an_older_plain_central_name_is_replaced_by_a_secret_one(small_site: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text('site = "test"\n[secrets]\n"central" = "old-secret-0123456789"\n"gerai.g1" = "g1-secret-0123456789"\n',
                    encoding="utf-8")
    migrated = creds.ensure(path, "test", small_site.identities())
    assert "central" not in migrated.secrets and migrated.username(CENTRAL).startswith("central-")
    assert migrated.secrets["gerai.g1"] == "g1-secret-0123456789"  # devices keep theirs
    assert creds.load(path).username(CENTRAL) == migrated.username(CENTRAL)  # kept across runs
