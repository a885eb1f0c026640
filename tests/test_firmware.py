"""The firmware's pure logic on real MicroPython (WebAssembly, under Node.js) and on CPython.

The test installs the npm package @micropython/micropython-webassembly-pyscript into
.cache/node itself; CI sets ANTRE_REQUIRE_ALL so a missing node/npm fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from broker import codec
from broker import messages as m
from hardware.display import SEGMENTS, DisplayContent, segment_mapper, seven_segment_text
from tests.conftest import ROOT

MPY_PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"
NODE_DIR = ROOT / ".cache" / "node"
FW = ROOT / "firmware" / "antre_fw"
VECTORS = ROOT / "tests" / "firmware_vectors.py"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail(f"{tool} is required (ANTRE_REQUIRE_ALL is set) but not installed")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture(scope="module")
def micropython(request: pytest.FixtureRequest) -> dict[str, Any]:
    node, npm = _need("node"), _need("npm")
    package = NODE_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    if not package.exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent",
                        MPY_PACKAGE], check=True, timeout=300)
    result = subprocess.run([node, str(ROOT / "tests" / "mpy_run.mjs"), str(NODE_DIR / "node_modules"), str(FW),
                             str(VECTORS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    notes = getattr(request.config, "antre_notes", [])
    notes.append(f"firmware tests ran on MicroPython {data['version']}; "
                 f"press-to-command heap {data['press_cycle_heap_bytes']} bytes (gc.mem_alloc)")
    request.config.antre_notes = notes  # type: ignore[attr-defined]
    return data


@pytest.fixture(scope="module")
def cpython() -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(VECTORS)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "firmware")})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_runs_on_real_micropython(micropython: dict[str, Any]) -> None:
    assert micropython["implementation"] == "micropython"
    assert "MicroPython v1.27" in micropython["version"]


def test_same_results_on_micropython_and_cpython(micropython: dict[str, Any], cpython: dict[str, Any]) -> None:
    skip = {"implementation", "version", "press_cycle_heap_bytes", "press_cycle_gestures"}

    def normal(key: str, value: Any) -> Any:  # MicroPython's dicts do not keep insertion order
        if key == "commands":
            return [json.loads(v) for v in value]
        if key in ("presence", "health"):
            return json.loads(value)
        return value

    for key in cpython:
        if key not in skip:
            assert normal(key, micropython[key]) == normal(key, cpython[key]), key


def test_firmware_messages_satisfy_the_contract(micropython: dict[str, Any]) -> None:
    kinds = []
    for payload in micropython["commands"]:
        msg = codec.decode(payload.encode(), "cmd")  # the central's own validation
        kinds.append(m.kind_of(type(msg)))
    assert kinds == ["call_next", "recall", "no_show", "done", "pause", "resume", "take_ticket"]
    assert codec.decode(micropython["presence"].encode(), "presence", m.Presence).online is False
    assert codec.decode(micropython["health"].encode(), "health", m.Health).buttons == "fault"
    assert micropython["topic"] == "antre/v1/kupang/gerai/g05/cmd"
    ids = [json.loads(p)["id"] for p in micropython["commands"]]
    assert len(set(ids)) == len(ids)


def test_state_parsing(micropython: dict[str, Any]) -> None:
    assert micropython["state"] == ["A012", 7, "serving", 42]
    assert micropython["bad_states"] == [None, None, None, None]


def test_gestures_match_the_pi_agent(micropython: dict[str, Any]) -> None:
    from hardware.gestures import GestureDetector, GestureTiming

    d = GestureDetector(GestureTiming(0.03, 0.35, 1.2))
    expected = []
    for t, p in ((0, True), (5, False), (10, True), (200, False), (300, None), (560, None),
                 (1000, True), (1100, False), (1200, True), (1300, False), (3000, True), (4300, None), (5000, False)):
        got = d.poll(t / 1000) if p is None else d.edge(bool(p), t / 1000)
        expected.append([g.value for g in got])
    assert micropython["gestures"] == expected
    assert micropython["bounces"] == d.bounces


def test_segments_match_the_pi_agent(micropython: dict[str, Any]) -> None:
    assert micropython["segments"] == {k: SEGMENTS[k] for k in sorted(SEGMENTS)}
    assert micropython["encoded"][0] == segment_mapper("A012")
    content = DisplayContent("Gerai 5", "A012", 7, "MELAYANI")
    assert micropython["encoded"][1] == segment_mapper(seven_segment_text(content, 8))


def test_backoff(micropython: dict[str, Any]) -> None:
    assert micropython["backoff"] == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert micropython["backoff_reset"] == 375


def test_press_cycle_heap_is_measured(micropython: dict[str, Any]) -> None:
    assert micropython["press_cycle_gestures"] == ["press"]
    heap = micropython["press_cycle_heap_bytes"]
    print(f"MicroPython heap for one press-to-command cycle: {heap} bytes")
    assert 0 < heap < 4096
