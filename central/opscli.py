"""The operations commands of ``antre``: ``backup`` and ``status`` (registered by
:mod:`antre.cli.ops`; errors such as a bad site file or a storage failure propagate to the
command line's exit statuses)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def backup(args: argparse.Namespace) -> int:
    from antre.central.backup import make_backup
    from antre.central.config import load_site

    from antre.central.archive import archive_dir

    config = load_site(args.config)
    path = args.db or config.store.path
    result = make_backup(path, config.site_id, Path(args.out) if args.out else None, keep=args.keep,
                         archive=archive_dir(path, config.store.archive))
    print(f"wrote {result.path} ({result.events} events, {result.bytes} bytes, integrity ok, "
          f"{result.seconds:.2f} s)")
    if result.archive_files:
        print(f"archive: {result.archive_files} archived days in {result.path.parent / 'archive'} "
              f"({result.archive_copied} copied now, each checked against its sha256)")
    for path in result.removed:
        print(f"removed {path} (keeping the newest {args.keep})")
    return 0


def status(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.central.status import run_status

    config = load_site(args.config)
    return run_status(config, sys.stdout, sys.stderr, host=args.broker_host, port=args.broker_port,
                      credentials=args.credentials, wait=args.wait, timeout=args.timeout,
                      as_json_output=args.json)
