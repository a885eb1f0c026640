"""Nothing lost or doubled at full throughput, through a SIGKILL of the central.

The throughput bench's load (bench/loadgen.py: 100 gerai in two processes, each with its own
identity and connection, four QoS 1 commands in flight each) runs against Mosquitto and the real
``antre central`` with durable commits, as fast as the central answers.  In the middle of it the
central is killed with SIGKILL and started again.  Then everything is counted, not assumed:
every command sent has a reply, no number is issued twice and no ticket called twice, every
call is of an issued ticket, the log's own audit finds no violation (numbers contiguous per
service, each command applied once), and every command the gerai sent appears in the log
exactly once.  The speed is measured by ``make bench``, not asserted here.
"""

from __future__ import annotations

import signal
from pathlib import Path

from antre.sim import procs
from antre.sim.faults import audit_log
from antre.sim.sitefiles import SiteFiles, generated_site
from bench.loadgen import Load
from tests.harness import free_port, require_mosquitto, wait_for

GERAI = 100
SERVICES = 10


def test_nothing_lost_or_doubled_at_full_throughput_through_a_sigkill(tmp_path: Path) -> None:
    require_mosquitto()
    site = SiteFiles(tmp_path, free_port(), base=generated_site(GERAI, SERVICES, site_id="load"))
    with procs.running_site("mosquitto", tmp_path, site=site, report=print) as stack:
        central = stack.central
        with Load(site, list(site.config.gerai), window=4) as load:
            count_from, stop_at = load.go(warmup=0.0, seconds=6.0)
            # the load is running: wait until the central has answered some of it, then kill it
            wait_for(lambda: central.output().count("antre central ready") == 1 and _log_rows(site) > 500, 30,
                     "the central applies part of the load")
            central.signal(signal.SIGKILL)
            central.wait(10)
            central.start()
            wait_for(lambda: central.output().count("antre central ready") == 2 or not central.alive(), 60,
                     "the central ready again")
            assert central.alive(), central.output()
            result = load.result(timeout=180)
        audit = audit_log(site.dir / "central.db", site.config)

    assert len(result.sent) > 1000, "the load hardly ran"
    assert (result.lost, result.doubled) == (0, 0), f"lost {result.lost}, doubled {result.doubled}"
    assert audit.violations() == [], audit.summary()
    missing, again = [], []
    for cid in result.sent:
        effect = audit.effect(cid.rsplit("-t-", 1)[0], cid)
        if effect is None:
            missing.append(cid)
        elif effect.times != 1:
            again.append(cid)
    assert (missing, again) == ([], []), f"{len(missing)} not in the log, {len(again)} applied more than once"
    issued = sorted(result.issued)
    assert len(issued) == len(set(issued)) == sum(1 for c in result.sent if int(c[-7:]) % 2)  # every take answered
    print(f"{len(result.sent)} commands, {result.duplicate_replies} replies received again after the restart")


def _log_rows(site: SiteFiles) -> int:
    """Events in the central's log so far (read-only, beside the running central)."""
    import sqlite3

    path = site.dir / "central.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
