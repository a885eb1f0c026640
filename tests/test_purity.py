"""The queue engine imports no MQTT, no pygame, no hardware (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

FORBIDDEN = ["paho", "amqtt", "pygame", "gpiozero", "serial", "luma", "lgpio", "PIL", "hardware", "edge"]

PROBE = f"""
import sys
import central.engine, central.service, central.store, central.config, central.views, central.audit
import broker.codec, broker.topics, broker.messages
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})
print(','.join(loaded))
"""


def test_engine_imports_no_transport_display_or_hardware() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"the engine pulled in: {out}"


def test_the_probe_would_notice_a_forbidden_import() -> None:
    probe = PROBE.replace("import sys\n", "import sys, sqlite3, json as paho\nsys.modules['paho'] = paho\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "paho"
