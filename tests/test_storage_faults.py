"""Storage faults: each error names its real cause and the remedy; nothing pending is lost.

The field report: start-up errors for a read-only directory or a full disk
advised restoring a corrupt file, and the embedded broker lost a pending
command when the central stopped on a full disk.  Here the faults are real:
a directory the central's user cannot write, a tmpfs that is full or mounted
read-only (in a private mount namespace, or a real mount when root), a file
that is not a database, a log locked by another central.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.central.store import EventStore, StorageCause, StorageError
from tests.conftest import ROOT
from antre.sim.faults import audit_log
from tests.harness import BrokerProc, CentralProc, Device, Site, free_port, running_site, wait_for

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def _central_argv(site: Site, db: Path) -> list[str]:
    return [sys.executable, "-m", "antre", "central", "--config", str(site.config_path), "--db", str(db)]


def _unshare_ok() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    return subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode == 0


def _in_tmpfs(site: Site, mount_opts: str, prepare: str) -> subprocess.CompletedProcess[str]:
    """Run ``antre central`` with its log on a fresh tmpfs in a private mount namespace."""
    if not _unshare_ok():
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("unshare (util-linux) with user namespaces is required for the tmpfs storage tests")
        pytest.skip("no unshare with user namespaces here")
    data = site.dir / "data"
    data.mkdir()
    db = data / "central.db"
    argv = " ".join(f"'{a}'" for a in _central_argv(site, db))
    script = f"mount -t tmpfs -o {mount_opts} tmpfs '{data}' && {prepare} exec {argv}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                          env=ENV, cwd=ROOT)


def test_a_directory_the_central_cannot_write_is_a_permission_error(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    argv = _central_argv(site, locked / "central.db")
    if os.geteuid() == 0:
        # root overrides file modes: drop that power, as a central running as its own user has none
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
        argv = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=ENV, cwd=ROOT)
    assert result.returncode == 3, result.stderr
    err = result.stderr
    assert "storage error (permission)" in err and "permission denied for" in err and "chown" in err, err
    assert "corrupt" not in err and "backup" not in err and "full" not in err


def test_a_full_disk_at_start_says_the_disk_is_full(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    result = _in_tmpfs(site, "size=64k", f"dd if=/dev/zero of='{site.dir}/data/filler' bs=4k 2>/dev/null;")
    assert result.returncode == 3, result.stderr
    err = result.stderr
    assert "storage error (disk_full)" in err and "the disk is full" in err and "Free space on" in err, err
    assert "corrupt" not in err and "backup" not in err and "permission" not in err


def test_a_read_only_filesystem_says_so(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    result = _in_tmpfs(site, "size=1m,ro", "")
    assert result.returncode == 3, result.stderr
    err = result.stderr
    assert "storage error (read_only_filesystem)" in err and "mounted read-only" in err, err
    assert "corrupt" not in err and "backup" not in err


def test_a_file_that_is_not_a_log_is_corrupt(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    db = tmp_path / "central.db"
    db.write_bytes(b"this is not an SQLite database, but a photo of the MPP's front desk" * 100)
    result = subprocess.run(_central_argv(site, db), capture_output=True, text=True, timeout=60, env=ENV, cwd=ROOT)
    assert result.returncode == 3, result.stderr
    assert "storage error (corrupt)" in result.stderr and "move the file aside" in result.stderr
    assert "restore the latest backup" in result.stderr


def test_one_writer_per_log_in_process(tmp_path: Path) -> None:
    first = EventStore(tmp_path / "log.db", "test")
    try:
        with pytest.raises(StorageError) as info:
            EventStore(tmp_path / "log.db", "test")
        assert info.value.cause is StorageCause.LOCKED
        assert f"pid {os.getpid()} on host" in str(info.value)
        reader = EventStore(tmp_path / "log.db", "test", readonly=True)  # tools may read beside it
        assert reader.count() == first.count()
        reader.close()
    finally:
        first.close()
    EventStore(tmp_path / "log.db", "test").close()  # released with the writer


# ------------------------------------------------ full disk while running

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs mounted for the test (needs root: the central must outlive a namespace); a test
    fills it to the little room it wants (what the log needs once the filler is gone must fit)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs that outlives the central needs root (CI runs as root)")
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(data)], check=True)
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


@pytest.mark.parametrize("kind", ["mosquitto", "embedded"])
def test_a_disk_full_mid_run_stops_the_central_and_loses_nothing_pending(small_disk: Path, tmp_path: Path,
                                                                       kind: str) -> None:
    site = Site(tmp_path, free_port())
    broker = BrokerProc(kind, site)
    broker.start()
    db = small_disk / "central.db"
    central = CentralProc(site, ["--db", str(db)])
    kiosk = None
    try:
        central.start()
        central.wait_ready()
        # leave the log a little room, then fill it with tickets until the commit fails
        filler = small_disk / "filler"
        free = shutil.disk_usage(small_disk).free
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 96 * 1024))
        kiosk = Device(site, Role.KIOSK, "k1")
        sent: list[str] = []
        i = 0
        while central.alive() and i < 2000:  # (a fast central takes many before it dies: all must fit after)
            cid = f"k1-full-{i:06d}"
            kiosk.publish_raw(codec_encode(m.TakeTicket(id=cid, service="kk", print=False)))  # no ts: no deadline
            sent.append(cid)
            i += 1
        assert central.wait(30) == 3, central.output()
        assert "the disk is full" in central.output() and "Nothing of this batch was acknowledged" in central.output()
        answered_before = set(kiosk.replies)
        # more presses while the central is down: they wait in the broker for its session
        for j in range(20):
            cid = f"k1-down-{j:06d}"
            kiosk.publish_raw(codec_encode(m.TakeTicket(id=cid, service="kk", print=False)))
            sent.append(cid)
        filler.unlink()  # the technician frees space
        central.start()
        central.wait_ready()
        wait_for(lambda: set(sent) <= set(kiosk.replies), 60,  # type: ignore[union-attr]
                 f"an answer to every command ({len(set(sent) - set(kiosk.replies))} missing)")
        assert len(answered_before) < len(sent)
        audit = audit_log(db, site.config)
        assert audit.violations() == [], audit.summary()
        for cid in sent:
            effect = audit.effect("k1", cid)
            assert effect is not None and effect.times == 1, (cid, effect)
        numbers = sorted(int(kiosk.replies[c].ticket[1:]) for c in sent)  # type: ignore[index]
        assert numbers == list(range(1, len(sent) + 1))  # each issued once, contiguous
    finally:
        if kiosk is not None:
            kiosk.close()
        central.stop()
        broker.stop()
        print(central.output()[-4000:])


def codec_encode(cmd: m.AnyCommand) -> bytes:
    from antre.broker.wire import codec

    return codec.encode(cmd)


def test_the_running_site_fixture_is_unaffected(tmp_path: Path) -> None:
    """Sanity: the harness's own site starts (its log in the test's directory, writable)."""
    with running_site("embedded", tmp_path) as stack:
        assert stack.central.alive()


@pytest.mark.parametrize("kind", ["mosquitto", "embedded"])
def test_a_log_deleted_while_running_stops_the_central_before_a_commit_is_lost(tmp_path: Path, kind: str) -> None:
    """The field report: `rm kupang.db*` while the central ran; tickets went on being "issued" into
    the unlinked file and were gone after a restart, which issued L001 again."""
    with running_site(kind, tmp_path) as stack:
        kiosk = Device(stack.site, Role.KIOSK, "k1")
        try:
            assert kiosk.request(m.TakeTicket(id="k1-del-000001", service="kk", print=False)).ticket == "B001"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{stack.site.dir / 'central.db'}{suffix}").unlink(missing_ok=True)
            kiosk.publish_raw(codec_encode(m.TakeTicket(id="k1-del-000002", service="kk", print=False)))
            assert stack.central.wait(30) == 3, stack.central.output()
            assert "was deleted or replaced while antre central was running" in stack.central.output()
            assert "k1-del-000002" not in kiosk.replies  # not acknowledged: nothing was applied to a lost file
            # and a central on an empty log does not silently issue today's numbers again
            stack.central.start()
            assert stack.central.wait(30) == 4, stack.central.output()
            assert "would issue today's numbers again" in stack.central.output()
        finally:
            kiosk.close()
