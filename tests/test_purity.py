"""The layout's rules, checked in fresh interpreters.

* The queue engine imports no MQTT, no pygame, no hardware; nor do reports (nor any web).
* A gerai agent imports nothing of the central or the lobby, and no pygame or amqtt.
* A lobby imports nothing of the queue engine, its log or its service (it reads the
  site file), and no amqtt.
* The operations console imports no pygame, no hardware, no edge agent, no amqtt: it is a
  web application on MQTT; the queue engine and the log it reads are the central's own.
* Nothing imports the bare role folders (``broker``, ``central``...): one namespace,
  ``antre.*``, or two copies of a module could exist side by side.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import antre
from tests.conftest import ROOT

ROLES = ["broker", "central", "edge", "hardware", "lobby", "console"]


def _loaded(imports: str, prefixes: list[str]) -> list[str]:
    probe = (f"import sys\n{imports}\n"
             f"print(','.join(sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') "
             f"for p in {prefixes!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


ENGINE = ("import antre.central.engine, antre.central.service, antre.central.store, antre.central.config, "
          "antre.central.views, antre.central.audit, antre.broker.wire.codec, antre.broker.wire.topics, "
          "antre.broker.wire.messages")


def test_engine_imports_no_transport_display_or_hardware() -> None:
    assert _loaded(ENGINE, ["paho", "amqtt", "pygame", "gpiozero", "serial", "luma", "lgpio", "PIL",
                            "antre.hardware", "antre.edge", "antre.lobby", "antre.broker.link"]) == []


def test_reports_import_no_transport_nor_web() -> None:
    """The report module and its files are pure: a command line, a console or a regional tool may use them."""
    imports = "import antre.central.reports, antre.central.reportfiles, antre.cli.report"
    assert _loaded(imports, ["paho", "amqtt", "starlette", "jinja2", "uvicorn", "pygame", "antre.broker.link",
                             "antre.console", "antre.edge", "antre.lobby", "openpyxl"]) == []


def test_the_skm_arithmetic_and_the_feedback_rules_are_pure() -> None:
    imports = "import antre.central.skm, antre.central.feedback, antre.central.ticketkey"
    assert _loaded(imports, ["paho", "amqtt", "starlette", "jinja2", "openpyxl", "sqlite3", "gpiozero", "pygame",
                             "antre.broker.link", "antre.console", "antre.edge", "antre.hardware"]) == []


def test_a_gerai_agent_imports_nothing_of_the_central_or_the_lobby() -> None:
    imports = "import antre.edge.agent, antre.edge.setup, antre.edge.main, antre.edge.config"
    assert _loaded(imports, ["antre.central", "antre.lobby", "pygame", "amqtt", "antre.broker.admin.embedded"]) == []


def test_a_lobby_imports_nothing_of_the_queue() -> None:
    imports = "import antre.lobby.app, antre.lobby.announcer, antre.lobby.screen, antre.lobby.voicepack"
    assert _loaded(imports, ["antre.central.engine", "antre.central.service", "antre.central.store",
                             "antre.central.runner", "amqtt", "antre.edge", "antre.hardware"]) == []


def test_nothing_imports_the_bare_role_folders() -> None:
    names = [m.name for m in pkgutil.walk_packages(antre.__path__, "antre.")
             if not m.name.startswith(("antre.firmware", "antre.examples", "antre.__main__"))]
    imports = "\n".join(f"import {n}" for n in names)
    assert _loaded(imports, ROLES) == []


def test_the_probe_would_notice_a_forbidden_import() -> None:
    assert _loaded("import json as paho, sys; sys.modules['paho'] = paho", ["paho"]) == ["paho"]


def test_the_console_imports_no_screen_hardware_or_embedded_broker() -> None:
    imports = "import antre.console.web, antre.console.main, antre.console.live, antre.console.history"
    assert _loaded(imports, ["pygame", "gpiozero", "serial", "luma", "lgpio", "amqtt", "antre.edge",
                             "antre.hardware", "antre.lobby"]) == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_folder_is_the_subpackage_of_the_same_name(role: str) -> None:
    link = ROOT / "antre" / role
    assert link.is_symlink() and link.resolve() == ROOT / role
