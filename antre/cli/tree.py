"""The command tree of ``antre``: groups, leaf commands, and the options every level shares.

A command line is ``antre [GROUP ...] LEAF [OPTIONS]``.  A few options are
*shared* (:data:`SHARED`: ``--config``, ``--verbose``, ``--broker-host``,
``--broker-port``, ``--credentials``, ``--mock``, ``--bind``, ``--lobby``): a leaf declares
which it takes (:class:`Use`), and they are then accepted at every level, before
or after the subcommand, so ``antre edge --config X selftest`` and
``antre edge selftest --config X`` are the same command.  None is ever
silently ignored: a shared option given to a command that does not take it,
or given twice with different values, is a usage error (exit 2).

Each level parses into its own attribute (``config@0``, ``config@1``, ...);
:meth:`CommandTree.parse` merges them into ``args.config`` and checks them.

Registering a command (see :mod:`antre.cli`)::

    def register(tree: CommandTree) -> None:
        tree.group("central", help="...")
        p = tree.command("central run", _run, help="...",
                         uses={"config": SITE_FILE.required(), "broker_host": Use()})
        p.add_argument("--db", metavar="FILE", help="...")

Old forms (``antre central --config X`` for ``antre central run --config X``)
are kept by a group's ``default``: with options but no subcommand after the
group, the default leaf is meant.  They are not documented in help.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from antre.broker.errors import EX_USAGE, AntreError, ConfigurationError
from antre.cli.values import ident, port

Runner = Callable[[argparse.Namespace], int]

_COMMAND = "_antre_command"  # the Namespace attribute naming the leaf that was chosen


class UsageError(AntreError, exit_status=EX_USAGE, what="usage"):
    """A command line that cannot work, found after parsing; reported as argparse reports its own."""


class OptionError(ConfigurationError, what="option"):
    """A command-line value (or environment variable) found wrong only after parsing (exit 78)."""


# ---------------------------------------------------------------------------- shared options


@dataclass(frozen=True)
class Shared:
    """An option that every level of the tree accepts for the leaves that take it."""

    name: str  #: the attribute of the parsed arguments, e.g. "broker_port"
    flags: tuple[str, ...]
    help: str  #: generic help; a leaf may say more (Use.help)
    metavar: str | None = None  #: None: a flag without a value
    type: Callable[[str], Any] | None = None

    @property
    def flag(self) -> str:
        return self.flags[-1]


#: The shared options, by attribute name.  A new one is added here, then used by leaves.
SHARED: dict[str, Shared] = {s.name: s for s in (
    Shared("config", ("--config",), "the configuration file of the command (TOML)", "FILE"),
    Shared("verbose", ("-v", "--verbose"), "log debug messages"),
    Shared("broker_host", ("--broker-host",), "the MQTT broker's host name or address", "HOST"),
    Shared("broker_port", ("--broker-port",), "the MQTT broker's TCP port", "PORT", port),
    Shared("credentials", ("--credentials",), "the site's credentials file (TOML, one secret per device)", "FILE"),
    Shared("mock", ("--mock",), "mock hardware (a laptop): gpiozero's mock pins, luma's dummy display, "
           "a pty printer"),
    Shared("bind", ("--bind",), "the address the broker listens on", "ADDRESS"),
    Shared("lobby", ("--lobby",), "the [[lobby]] of the site file", "ID", ident),
)}


@dataclass(frozen=True)
class Use:
    """How a leaf takes a shared option."""

    help: str | None = None  #: this leaf's help (default: the shared option's)
    metavar: str | None = None  #: this leaf's metavar (default: the shared option's)
    is_required: bool = False
    default: Any = None  #: the value when the option is not given
    shown_default: str | None = None  #: the default as help shows it (default: str(default))
    aliases: tuple[str, ...] = ()  #: older spellings, accepted but not shown in help
    env: str | None = None  #: flags only: an environment variable that sets it ("1" or "0")

    def required(self) -> Use:
        return dataclasses.replace(self, is_required=True)


#: ``--config`` naming a site file (the most common use)
SITE_FILE = Use(help="the site file (TOML)", metavar="SITE.toml")
#: ``--config`` naming a gerai's or kiosk's device file
DEVICE_FILE = Use(help="the device file of this gerai or kiosk (TOML)", metavar="DEVICE.toml")


# ---------------------------------------------------------------------------- help


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" not in text and action.option_strings and default not in (None, False, True)
                and default is not argparse.SUPPRESS and default != []):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage line marks shared options required by this leaf as required.

    They cannot be ``required=True`` for argparse, which would refuse them given before the
    subcommand; they are marked so only while help and usage are formatted.
    """

    shown_required: list[argparse.Action]
    renamed: list[tuple[argparse.Action, str, bool]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # a guessed prefix never silently means another option
        super().__init__(*args, **kwargs)
        self.shown_required = []
        self.renamed = []

    def add_renamed(self, flag: str, old: str, *, required: bool = False, **kwargs: Any) -> argparse.Action:
        """An option with an older name still accepted (hidden from help): ``--serial-port`` and ``--port``."""
        action = self.add_argument(flag, **kwargs)
        hidden = {k: v for k, v in kwargs.items() if k in ("type", "metavar", "choices")}
        self.add_argument(old, dest=f"{action.dest}@{old}", default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                          **hidden)
        self.renamed.append((action, old, required))
        if required:
            self.shown_required.append(action)
        return action

    @contextmanager
    def _marked(self) -> Iterator[None]:
        for action in self.shown_required:
            action.required = True
        try:
            yield
        finally:
            for action in self.shown_required:
                action.required = False

    def format_usage(self) -> str:
        with self._marked():
            return super().format_usage()

    def format_help(self) -> str:
        with self._marked():
            return super().format_help()


# ---------------------------------------------------------------------------- the tree


@dataclass
class Command:
    """A leaf: ``antre edge selftest``."""

    path: tuple[str, ...]
    run: Runner
    parser: Parser
    uses: dict[str, Use]
    quiet: bool  #: log warnings only (a tool that prints its own output), unless --verbose

    @property
    def name(self) -> str:
        return " ".join(("antre", *self.path))


@dataclass
class Group:
    """A level with subcommands: the top (``antre``) or a group (``antre edge``)."""

    path: tuple[str, ...]
    parser: Parser
    subparsers: Any  # argparse._SubParsersAction[Parser]
    default: str | None = None  #: the leaf an old form without a subcommand means
    names: list[str] = field(default_factory=list)


@dataclass
class Invocation:
    command: Command
    args: argparse.Namespace


class CommandTree:
    """Every ``antre`` subcommand; built by the ``register`` functions listed in :mod:`antre.cli`."""

    def __init__(self, parser: Parser) -> None:
        self.parser = parser
        top = parser.add_subparsers(title="commands", dest="_command", metavar="COMMAND", required=True,
                                    parser_class=Parser)
        self.groups: dict[tuple[str, ...], Group] = {(): Group((), parser, top)}
        self.commands: dict[tuple[str, ...], Command] = {}
        self._finished = False

    def group(self, path: str, *, help: str, description: str | None = None, default: str | None = None) -> None:
        """A group of subcommands, e.g. ``edge`` or ``lobby voicepack``.

        ``default``: the leaf meant when options follow the group but no subcommand does
        (``antre central --config X`` = ``antre central run --config X``), for old units and scripts.
        """
        names = tuple(path.split())
        parent = self.groups[names[:-1]]
        parser = parent.subparsers.add_parser(names[-1], help=help, description=description or _sentence(help))
        subparsers = parser.add_subparsers(title="subcommands", dest="_" + "_".join(names), metavar="SUBCOMMAND",
                                           required=True, parser_class=Parser)
        parent.names.append(names[-1])
        self.groups[names] = Group(names, parser, subparsers, default)

    def command(self, path: str, run: Runner, *, help: str, description: str | None = None,
                uses: Mapping[str, Use] | None = None, quiet: bool = True) -> Parser:
        """A leaf command; returns its parser for the options of its own."""
        assert not self._finished, "register commands before the tree is finished"
        names = tuple(path.split())
        parent = self.groups[names[:-1]]
        parser: Parser = parent.subparsers.add_parser(names[-1], help=help,
                                                      description=description or _sentence(help))
        unknown = set(uses or {}) - set(SHARED)
        assert not unknown, f"{path}: not shared options: {unknown}"
        command = Command(names, run, parser, {"verbose": Use(), **(uses or {})}, quiet)
        parser.set_defaults(**{_COMMAND: command})
        parent.names.append(names[-1])
        self.commands[names] = command
        return parser

    # ------------------------------------------------------------------ building the shared options

    def finish(self) -> None:
        """Add the shared options to every level (call once, after every command is registered)."""
        if self._finished:
            return
        self._finished = True
        for command in self.commands.values():
            depth = len(command.path)
            section = command.parser.add_argument_group("options also accepted before the command name")
            for name, use in command.uses.items():
                action = self._add(section, SHARED[name], depth, use.help, use.metavar, use, hidden=False)
                if use.is_required:
                    command.parser.shown_required.append(action)
            for name in SHARED.keys() - command.uses.keys():  # accepted, to be refused by name in parse()
                self._add(command.parser, SHARED[name], depth, None, None, Use(), hidden=True)
        for path, group in self.groups.items():
            below = [c for p, c in self.commands.items() if p[:len(path)] == path]
            uses: dict[str, list[Use]] = {}
            for c in below:
                for name, use in c.uses.items():
                    uses.setdefault(name, []).append(use)
            top = not path
            target: Any = group.parser if top else group.parser.add_argument_group(
                "options of the subcommands, accepted here too")
            for name, found in uses.items():
                one = found[0]
                help = one.help if len({u.help for u in found}) == 1 else None
                metavar = one.metavar if len({u.metavar for u in found}) == 1 else None
                if len(found) < len(below):  # say which subcommands take it
                    takers = [" ".join(c.path[len(path):]) for c in below if name in c.uses]
                    help = f"{help or SHARED[name].help} (for: {', '.join(takers)})"
                hidden = top and name != "verbose"  # `antre --help` lists commands, not every option
                self._add(target, SHARED[name], len(path), help, metavar, Use(
                    aliases=tuple(sorted({a for u in found for a in u.aliases})),
                    env=one.env if all(u.env == one.env for u in found) else None), hidden=hidden)

    @staticmethod
    def _add(target: Any, spec: Shared, depth: int, help: str | None, metavar: str | None, use: Use,
             hidden: bool) -> argparse.Action:
        text = help or spec.help
        shown = use.shown_default or (None if use.default is None else str(use.default))
        if shown is not None and spec.metavar is not None:
            text += f" (default: {shown})"
        if use.env:
            text += f"; or {use.env}=1"
        kwargs: dict[str, Any] = {"dest": f"{spec.name}@{depth}", "default": argparse.SUPPRESS,
                                  "help": argparse.SUPPRESS if hidden else text}
        if spec.metavar is None:
            kwargs["action"] = "store_true"
        else:
            kwargs["metavar"] = metavar or spec.metavar
            if spec.type is not None:
                kwargs["type"] = spec.type
        action: argparse.Action = target.add_argument(*spec.flags, **kwargs)
        for alias in use.aliases:
            target.add_argument(alias, **{**kwargs, "dest": f"{spec.name}@{depth}@{alias}",
                                          "help": argparse.SUPPRESS})
        return action

    # ------------------------------------------------------------------ parsing

    def parse(self, argv: Sequence[str]) -> Invocation:
        """Parse and check a command line: argparse's errors and antre's exit with status 2."""
        self.finish()
        args = self.parser.parse_args(self._old_form(list(argv)))
        command: Command = getattr(args, _COMMAND)
        given: dict[str, list[tuple[str, Any]]] = {}
        for action, old, required in command.parser.renamed:
            key = f"{action.dest}@{old}"
            if key in vars(args):
                value, older = getattr(args, action.dest), getattr(args, key)
                if value is not None and value != older:
                    command.parser.error(f"{action.option_strings[0]} and {old} (its old name) differ")
                setattr(args, action.dest, older)
                delattr(args, key)
            if required and getattr(args, action.dest) is None:
                command.parser.error(f"{action.option_strings[0]} {action.metavar} is required")
        for key in [k for k in vars(args) if "@" in k]:
            name, _, rest = key.partition("@")
            flag = rest.partition("@")[2] or SHARED[name].flag
            given.setdefault(name, []).append((flag, getattr(args, key)))
            delattr(args, key)
        delattr(args, _COMMAND)
        for name, spec in SHARED.items():
            occurrences = given.get(name, [])
            use = command.uses.get(name)
            if occurrences and use is None:
                flag = occurrences[0][0]
                command.parser.error(f"{flag} does not apply to '{command.name}'")
            values = {v for _, v in occurrences}
            if len(values) > 1:
                shown = " and ".join(f"{flag} {value}" for flag, value in occurrences)
                command.parser.error(f"{spec.flag} is given twice with different values: {shown}")
            value = values.pop() if values else None
            if use is not None and value is None and use.env:
                value = _env_flag(use.env)
            if use is not None and value is None:
                value = use.default
            if use is not None and use.is_required and value is None:
                command.parser.error(f"{spec.flag} {use.metavar or spec.metavar} is required")
            setattr(args, name, False if value is None and spec.metavar is None else value)
        return Invocation(command, args)

    def _old_form(self, argv: list[str]) -> list[str]:
        """``antre central --config X`` -> ``antre central run --config X`` (groups with a default)."""
        group = self.groups[()]
        i = 0
        while i < len(argv):
            token = argv[i]
            if token == "--":
                return argv
            if token.startswith("-"):
                i += 1 + _takes_value(group.parser, token)
                continue
            child = group.path + (token,)
            if child not in self.groups:
                return argv  # a leaf, or something argparse will refuse
            group = self.groups[child]
            after = argv[i + 1:]
            if group.default is None or not after:
                i += 1
                continue
            j = 0
            while j < len(after):
                token = after[j]
                if token in group.names or token in ("-h", "--help", "--"):
                    break
                if token.startswith("-"):
                    opt = token.partition("=")[0]
                    if opt not in group.parser._option_string_actions:
                        if any(word in group.names for word in after[j:]):  # `antre lobby --size X render`
                            below = [c.parser for p, c in self.commands.items() if p[:len(group.path)] == group.path]
                            if any(opt in b._option_string_actions for b in below):
                                group.parser.error(f"{opt} is an option of the subcommand: give it after the "
                                                   "subcommand's name")
                            group.parser.error(f"unrecognized arguments: {opt}")
                        return argv[:i + 1] + [group.default] + after  # an option of the default leaf
                    j += 1 + _takes_value(group.parser, token)
                    continue
                return argv  # a stray word: argparse will say so
            else:
                return argv[:i + 1] + [group.default] + after  # only shared options, no subcommand
            i += 1 + j
        return argv


def _takes_value(parser: argparse.ArgumentParser, token: str) -> int:
    """1 when ``token`` is an option of ``parser`` whose value is the next word."""
    opt, eq, _ = token.partition("=")
    action = parser._option_string_actions.get(opt)
    return int(action is not None and not eq and action.nargs is None)  # flags have nargs=0


def _env_flag(variable: str) -> bool | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return None
    raise OptionError(f"{variable}={raw!r}: use {variable}=1 (or 0)")


def _sentence(help: str) -> str:
    return help[:1].upper() + help[1:] + ("" if help.endswith(".") else ".")
