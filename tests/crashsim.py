"""A deterministic stream of device commands, and a worker process that
applies it to a durable queue service and prints each acknowledgement.

The crash test kills the worker with SIGKILL in the middle of the stream and
checks that the recovered state is exactly the acknowledged prefix.

    python -m tests.crashsim --config SITE.toml --db LOG.db --count N
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Iterator

from antre.broker.wire import messages as m
from antre.central.config import load_site
from antre.central.service import QueueService
from antre.central.store import EventStore
from tests.conftest import at

START = dt.date(2023, 11, 16)


def stream(count: int, seed: int = 7) -> Iterator[tuple[str, str, m.AnyCommand, float]]:
    """(role, device, command, now) for ``count`` commands; crosses one midnight."""
    rng = random.Random(seed)
    t = at(START, 23, 0)
    for i in range(count):
        t += rng.uniform(1, 25)
        cid = f"sim-{i:07d}"
        r = rng.random()
        gerai = rng.choice(["g1", "g2", "g3", "g4"])
        cmd: m.AnyCommand
        if r < 0.45:
            service = rng.choice(["ktp", "kk", "npwp"])
            prio = rng.choice(["regular"] * 4 + ["elderly", "pregnant"])
            yield "kiosk", "k1", m.TakeTicket(id=cid, service=service, priority=prio), t  # type: ignore[arg-type]
            continue
        if r < 0.75:
            cmd = m.CallNext(id=cid, complete_current=rng.random() < 0.8)
        elif r < 0.82:
            cmd = m.Done(id=cid)
        elif r < 0.87:
            cmd = m.NoShow(id=cid)
        elif r < 0.90:
            cmd = m.Recall(id=cid)
        elif r < 0.93:
            cmd = m.Transfer(id=cid, service=rng.choice(["ktp", "kk", "npwp"]))
        elif r < 0.96:
            cmd = m.Pause(id=cid, reason="istirahat")
        else:
            cmd = m.Resume(id=cid)
        yield "gerai", gerai, cmd, t


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    config = load_site(args.config)
    store = EventStore(args.db, config.site_id, "full")
    service = QueueService.open(config, store, at(START, 22, 0))
    for role, device, cmd, now in stream(args.count):
        handled = service.handle(role, device, cmd, now)
        # Only after the commit: this line is the acknowledgement.
        sys.stdout.write(f"ACK {cmd.id} {handled.reply.code}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
