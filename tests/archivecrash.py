"""A process that archives the due days of a log and kills itself (SIGKILL) at one step.

The crash tests of the archive run it for every step of :mod:`antre.central.archive`
and check that the log and its archive lose nothing and double nothing::

    python -m tests.archivecrash --config SITE.toml --db LOG.db --today 2024-01-08 --retention 3 \\
        --kill-at renamed --nth 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
from pathlib import Path

from antre.central.archive import archive_dir, archive_due
from antre.central.config import load_site
from antre.central.store import EventStore


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--today", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--retention", type=int, required=True)
    parser.add_argument("--kill-at", default="")
    parser.add_argument("--nth", type=int, default=1)
    args = parser.parse_args()
    config = load_site(args.config)
    store = EventStore(args.db, config.site_id, "full")
    seen: dict[str, int] = {}

    def checkpoint(step: str) -> None:
        seen[step] = seen.get(step, 0) + 1
        print(f"STEP {step} {seen[step]}", flush=True)
        if step == args.kill_at and seen[step] == args.nth:
            os.kill(os.getpid(), signal.SIGKILL)

    done = archive_due(store, archive_dir(Path(args.db)), args.retention, args.today, checkpoint)
    print(f"DONE {len(done)}", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
