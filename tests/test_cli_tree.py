"""The shape of the ``antre`` command: leaves, help, shared options at any level, old forms, the registry."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from typing import Any

import pytest

from antre.cli import build_tree, main, parse
from antre.cli.tree import SHARED, CommandTree, Parser, Use
from tests.conftest import ROOT

LEAVES = [
    "demo", "check-config", "audit", "quarantine", "report",
    "central run", "central check-log",
    "broker run", "broker mosquitto-config",
    "edge run", "edge selftest", "edge setup", "edge provision", "edge bundle", "edge wheelhouse",
    "lobby run", "lobby render", "lobby say", "lobby voicepack build", "lobby voicepack check",
    "firmware config", "firmware deploy",
    "backup", "status",
    "console run", "console user add", "console user passwd", "console user remove", "console user list",
]
GROUPS = ["central", "broker", "edge", "lobby", "lobby voicepack", "firmware", "console", "console user"]

#: what a metavar may say (choices print as {a,b})
METAVARS = {"FILE", "DIR", "HOST", "PORT", "ADDRESS", "SECONDS", "DATE", "ID", "N", "USER", "TTY", "WxH",
            "NAME", "TICKET", "GERAI", "SITE.toml", "DEVICE.toml", "NODE.toml", "NAME:PIN:PRESS[:DOUBLE[:HOLD]]",
            "COMMAND", "SUBCOMMAND", "ZONE", "PNG", "URL", "X.Y", "EXTRA"}


def test_the_command_tree_has_a_leaf_for_every_service() -> None:
    tree = build_tree()
    assert sorted(" ".join(p) for p in tree.commands) == sorted(LEAVES)
    assert sorted(" ".join(p) for p in tree.groups if p) == sorted(GROUPS)


@pytest.mark.parametrize("path", [""] + GROUPS + LEAVES)
def test_help_shows_clear_metavars_and_defaults_and_no_internal_names(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path.split(), "--help"]) == 0
    text = capsys.readouterr().out
    internal = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text)) - {"ANTRE_MOCK"}
    assert not internal, f"internal names in `antre {path} --help`: {internal}"
    assert "%(" not in text and "None" not in text
    tree = build_tree()
    tree.finish()
    names = tuple(path.split())
    parser = tree.commands[names].parser if names in tree.commands else tree.groups[names].parser
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, (argparse._HelpAction, argparse._VersionAction,
                                                                     argparse._SubParsersAction)):
            continue
        assert action.help, f"antre {path}: {action.option_strings or action.dest} has no help"
        metavar = action.metavar
        if metavar is not None:
            assert metavar in METAVARS, f"antre {path}: metavar {metavar!r}"
        elif action.nargs != 0 and not action.choices:
            pytest.fail(f"antre {path}: {action.option_strings} shows argparse's own metavar")
        default = action.default
        if action.option_strings and default not in (None, False, argparse.SUPPRESS, []):
            assert "default:" in (action.help or "") or "default" in text, f"antre {path}: {action.option_strings}"


def test_help_of_a_leaf_shows_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "selftest", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--button-timeout SECONDS how long to wait for each button (default: 15.0)" in out
    assert "--config DEVICE.toml" in out and "; or ANTRE_MOCK=1" in out
    assert main(["broker", "mosquitto-config", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--broker-port PORT the TCP port the broker listens on (default: broker.port of the site file)" in out
    assert "--persistence DIR" in out and "(default: /var/lib/mosquitto/)" in out
    assert "--port" not in out.replace("--broker-port", "")  # the old name is accepted, not shown
    assert main(["lobby", "render", "--help"]) == 0
    assert "(default: 1920x1080)" in capsys.readouterr().out


def _parsed(argv: list[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    invocation = parse(argv)
    values = {k: v for k, v in vars(invocation.args).items() if not k.startswith("_")}
    return invocation.command.path, values


@pytest.mark.parametrize("forms", [
    [["edge", "selftest", "--config", "d.toml"], ["edge", "--config", "d.toml", "selftest"],
     ["--config", "d.toml", "edge", "selftest"]],
    [["edge", "selftest", "--config", "d.toml", "--mock", "-v"], ["-v", "edge", "--mock", "selftest", "--config",
                                                                   "d.toml"]],
    [["lobby", "render", "--config", "s.toml", "--out", "b.png"], ["lobby", "--config", "s.toml", "render", "--out",
                                                                   "b.png"]],
    [["broker", "mosquitto-config", "--config", "s.toml", "--out", "d", "--broker-port", "1884", "--bind", "0.0.0.0"],
     ["broker", "--config", "s.toml", "--broker-port", "1884", "--bind", "0.0.0.0", "mosquitto-config", "--out", "d"],
     ["broker", "--config", "s.toml", "--port", "1884", "mosquitto-config", "--bind", "0.0.0.0", "--out", "d"]],
    [["central", "run", "--config", "s.toml", "--broker-host", "h", "--broker-port", "1884", "--credentials", "c"],
     ["central", "--broker-host", "h", "--broker-port", "1884", "--credentials", "c", "run", "--config", "s.toml"]],
    [["edge", "provision", "--site", "s", "--id", "g1", "--out", "o", "--broker-host", "h", "--credentials", "c"],
     ["edge", "--broker-host", "h", "--credentials", "c", "provision", "--site", "s", "--id", "g1", "--out", "o"]],
    [["check-config", "s.toml"], ["check-config", "--config", "s.toml"], ["--config", "s.toml", "check-config"]],
    [["firmware", "deploy", "--serial-port", "/dev/ttyACM0", "--config", "n.toml"],
     ["firmware", "--config", "n.toml", "deploy", "--port", "/dev/ttyACM0"]],
    [["edge", "provision", "--site", "s", "--id", "g1", "--out", "o", "--broker-host", "h", "--credentials", "c",
      "--serial-port", "/dev/serial0"],
     ["edge", "provision", "--site", "s", "--id", "g1", "--out", "o", "--broker-host", "h", "--credentials", "c",
      "--printer", "/dev/serial0"]],
])
def test_shared_options_mean_the_same_before_or_after_the_subcommand(forms: list[list[str]]) -> None:
    first = _parsed(forms[0])
    if first[0] == ("check-config",):  # a positional or --config: the command takes either
        first[1]["site"] = first[1]["site"] or first[1]["config"]
    for argv in forms[1:]:
        path, values = _parsed(argv)
        if path == ("check-config",):
            values["site"] = values["site"] or values["config"]
            values["config"] = first[1]["config"]
        assert (path, values) == first, argv


@pytest.mark.parametrize(("argv", "message"), [
    (["edge", "--config", "a.toml", "selftest", "--config", "b.toml"],
     "--config is given twice with different values: --config a.toml and --config b.toml"),
    (["--mock", "central", "run", "--config", "s.toml"], "--mock does not apply to 'antre central run'"),
    (["edge", "--mock", "provision", "--site", "s", "--id", "g1", "--out", "o", "--broker-host", "h",
      "--credentials", "c", "--config", "x"], "--config does not apply to 'antre edge provision'"),
    (["lobby", "--broker-host", "h", "say", "A012", "--gerai", "5"], "--broker-host does not apply"),
    (["central", "run"], "--config SITE.toml is required"),
    (["edge", "selftest"], "--config DEVICE.toml is required"),
    (["firmware", "deploy", "--config", "n.toml"], "--serial-port TTY is required"),
    (["firmware", "deploy", "--config", "n.toml", "--port", "/dev/a", "--serial-port", "/dev/b"],
     "--serial-port and --port (its old name) differ"),
    (["lobby", "--size", "1280x720", "render"], "--size is an option of the subcommand"),
    (["broker", "mosquitto-config", "--config", "s.toml", "--out", "d", "--broker-port", "99999"],
     "'99999' is not a TCP port"),
    (["edge", "provision", "--site", "Kupang", "--id", "g1", "--out", "o", "--broker-host", "h",
      "--credentials", "c"], "'Kupang' is not an id"),
    (["central", "run", "--config", "s.toml", "--simulate-from", "soon"], "'soon' is not a time"),
    (["central", "--cred", "c", "run"], "unrecognized arguments"),  # no abbreviations
    (["check-config", "a.toml", "--config", "b.toml"], "two site files"),
])
def test_a_command_line_that_cannot_work_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "usage: antre" in err, err


@pytest.mark.parametrize(("old", "new"), [
    (["central", "--config", "s.toml"], ["central", "run", "--config", "s.toml"]),
    (["central", "--config", "s.toml", "--db", "x.db", "--new-epoch"],
     ["central", "run", "--config", "s.toml", "--db", "x.db", "--new-epoch"]),
    (["edge", "--config", "d.toml"], ["edge", "run", "--config", "d.toml"]),
    (["broker", "--config", "s.toml"], ["broker", "run", "--config", "s.toml"]),
    (["broker", "--config", "s.toml", "--port", "1884", "--bind", "0.0.0.0"],
     ["broker", "run", "--config", "s.toml", "--broker-port", "1884", "--bind", "0.0.0.0"]),
    (["lobby", "--config", "s.toml", "--no-audio", "--size", "1280x720"],
     ["lobby", "run", "--config", "s.toml", "--no-audio", "--size", "1280x720"]),
    (["lobby", "--config", "s.toml", "--lobby", "lobby-2"], ["lobby", "run", "--config", "s.toml", "--lobby", "lobby-2"]),
])
def test_old_forms_without_a_subcommand_mean_run(old: list[str], new: list[str]) -> None:
    assert _parsed(old) == _parsed(new)


def test_the_edge_unit_and_the_harness_use_forms_that_parse() -> None:
    unit = (ROOT / "edge" / "antre-edge.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert _parsed(exec_start.split()[1:])[0] == ("edge", "run")
    assert _parsed(["central", "--config", "s.toml", "--simulate-from", "2026-11-20T08:00", "--speed", "100"]
                   )[1]["speed"] == 100.0


def test_a_group_alone_asks_for_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge"]) == 2
    assert "the following arguments are required: SUBCOMMAND" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("antre 0.")


def test_the_parser_imports_no_role_and_no_optional_library() -> None:
    """`antre --help` works on every deployable: no central, lobby, edge or hardware code, no pygame or amqtt."""
    probe = ("import sys, antre.cli\nantre.cli.build_parser().format_help()\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('paho', 'pygame', 'amqtt', 'gpiozero', "
             "'luma', 'serial', 'PIL') or m.startswith(('antre.central', 'antre.edge', 'antre.lobby', "
             "'antre.hardware', 'antre.broker.link', 'antre.broker.admin'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_another_module_registers_its_commands_with_the_shared_options() -> None:
    """How `antre status` (or any later command) joins the tree: a register function."""
    ran: list[argparse.Namespace] = []

    def register(tree: CommandTree) -> None:
        p = tree.command("status", lambda args: ran.append(args) or 0, help="the site's devices",
                         uses={"config": Use(help="the site file", metavar="SITE.toml").required(),
                               "broker_host": Use()})
        p.add_argument("--json", action="store_true", help="as JSON")

    tree = CommandTree(Parser(prog="antre"))
    register(tree)
    invocation = tree.parse(["--config", "s.toml", "status", "--broker-host", "h", "--json"])
    assert invocation.command.run(invocation.args) == 0
    assert (ran[0].config, ran[0].broker_host, ran[0].json, ran[0].verbose) == ("s.toml", "h", True, False)
    assert set(SHARED) >= {"config", "verbose", "broker_host", "broker_port", "credentials", "mock"}
