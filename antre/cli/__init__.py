"""The ``antre`` command: one entry point, one subcommand per job a technician has.

::

    antre demo | check-config | audit | quarantine | report
    antre central run | check-log
    antre broker run | mosquitto-config
    antre edge run | selftest | provision
    antre lobby run | render | say | voicepack build
    antre firmware config | deploy
    antre backup | status
    antre console run | user add | user passwd | user remove | user list

Options shared by several commands (``--config``, ``--verbose``,
``--broker-host``, ``--broker-port``, ``--credentials``, ``--mock``, ``--bind``)
are accepted before or after the subcommand (:mod:`antre.cli.tree`).  An
error a person must act on is an :class:`~antre.broker.errors.AntreError`:
caught here once, printed as ``antre: <what> error: <message>``, and its
``exit_status`` returned (78 for configuration errors; see
:mod:`antre.broker.errors` for the table).

Adding subcommands: write a module ``antre/cli/<name>.py`` with a
``register(tree: CommandTree) -> None`` that calls ``tree.group(...)`` and
``tree.command(...)`` (:mod:`antre.cli.site` is a small example), and add its
``register`` to :data:`REGISTER` below.  Import the heavy modules inside the
command's function, never at the top: ``antre --help`` and the deployables
that lack an extra (a gerai has no pygame, no amqtt) must still work.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence

from antre import __version__
from antre.broker.errors import AntreError
from antre.cli import broker, central, console, edge, firmware, lobby, ops, report, site
from antre.cli.tree import CommandTree, Invocation, Parser, UsageError

#: Every module's ``register``, in the order ``antre --help`` lists their commands.
#: Another module's commands (``antre backup``, ``antre status``, ...) are added here.
REGISTER: list[Callable[[CommandTree], None]] = [
    site.register,  # demo, check-config, audit, quarantine
    report.register,  # report
    central.register,
    broker.register,
    edge.register,
    lobby.register,
    firmware.register,
    ops.register,  # backup, status
    console.register,  # console run, console user add/passwd/remove/list
]


def build_tree() -> CommandTree:
    parser = Parser(
        prog="antre",
        description="antre: queue controller for the gerai of a Mal Pelayanan Publik.",
        epilog="Options of a subcommand (--config, --broker-host, --broker-port, --credentials, --mock, ...) "
        "may also be given before it. 'antre COMMAND --help' shows a command's own options.",
    )
    parser.add_argument("--version", action="version", version=f"antre {__version__}")
    tree = CommandTree(parser)
    for register in REGISTER:
        register(tree)
    tree.finish()
    return tree


def build_parser() -> Parser:
    """The ``antre`` argument parser (every subcommand)."""
    return build_tree().parser


def parse(argv: Sequence[str]) -> Invocation:
    """Parse a command line without running it (raises SystemExit(2) on a usage error)."""
    return build_tree().parse(argv)


def configure_logging(verbose: bool, quiet: bool) -> None:
    """One logging setup for every deployable (journald-aware: :func:`antre.daemon.setup_logging`)."""
    from antre.daemon import setup_logging

    setup_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit status (never raises SystemExit)."""
    tree = build_tree()
    try:
        invocation = tree.parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit:  # argparse: --help, --version, or a usage error (2)
        return exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 2
    except AntreError as exc:  # e.g. ANTRE_MOCK=maybe
        print(exc.report(), file=sys.stderr)
        return exc.exit_status
    command = invocation.command
    configure_logging(invocation.args.verbose, command.quiet)
    try:
        return command.run(invocation.args)
    except UsageError as exc:  # reported as argparse reports its own
        command.parser.print_usage(sys.stderr)
        print(f"{command.parser.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except AntreError as exc:
        print(exc.report(), file=sys.stderr)
        return exc.exit_status
