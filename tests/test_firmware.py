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

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.hardware.display import SEGMENTS, DisplayContent, segment_mapper, seven_segment_text
from tests.conftest import ROOT

MPY_PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"
NODE_DIR = ROOT / ".cache" / "node"
FW = ROOT / "firmware" / "antre_fw"
VECTORS = ROOT / "tests" / "firmware_vectors.py"
FAKES = ROOT / "tests" / "mpy_fakes"
UMQTT = ROOT / "tests" / "vendor" / "umqtt_simple"  # the real umqtt.simple, unmodified
SHARED = ROOT / "tests" / "vectors"  # data both the Pi's and the firmware's code are checked against


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
                             str(VECTORS), str(FAKES), str(UMQTT), str(SHARED)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    notes = getattr(request.config, "antre_notes", [])
    heap = data["heap"]
    notes.append(f"firmware tests ran on MicroPython {data['version']} with the real umqtt.simple; heap per press "
                 f"cycle {max(heap['press_cycles'])} bytes, largest pass {heap['largest_pass']} bytes, idle pass "
                 f"{heap['idle_pass_max']} bytes (gc.mem_alloc)")
    request.config.antre_notes = notes  # type: ignore[attr-defined]
    return data


@pytest.fixture(scope="module")
def cpython() -> dict[str, Any]:
    path = os.pathsep.join(str(p) for p in (ROOT / "firmware", FAKES, UMQTT))
    result = subprocess.run([sys.executable, str(VECTORS)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_runs_on_real_micropython(micropython: dict[str, Any]) -> None:
    assert micropython["implementation"] == "micropython"
    assert "MicroPython v1.27" in micropython["version"]


def test_same_results_on_micropython_and_cpython(micropython: dict[str, Any], cpython: dict[str, Any]) -> None:
    skip = {"implementation", "version", "heap", "ssd1306", "loop", "epoch_rule"}  # MicroPython measures more presses

    def normal(key: str, value: Any) -> Any:  # MicroPython's dicts do not keep insertion order
        if key == "commands":
            return [json.loads(v) for v in value]
        if key in ("presence", "health", "ping"):
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
    health = codec.decode(micropython["health"].encode(), "health", m.Health)
    assert health.buttons == "fault" and health.faults == ["reset: watchdog"]
    ping = codec.decode(micropython["ping"].encode(), "cmd")
    assert isinstance(ping, m.Ping) and ping.ts == 1700198100.0
    first = codec.decode(micropython["commands"][0].encode(), "cmd")
    assert first.ts == 1700198100.123  # exact: written from integer milliseconds, never a float
    assert micropython["topic"] == "antre/v1/kupang/gerai/g05/cmd"
    ids = [json.loads(p)["id"] for p in micropython["commands"]]
    assert len(set(ids)) == len(ids)


def test_state_and_reply_parsing(micropython: dict[str, Any]) -> None:
    assert micropython["state"] == ["A012", 7, "serving", 42, 1700190000000]
    assert micropython["bad_states"] == [None, None, None, None]
    # the pong's time read from the text, to the millisecond (a float32 board would be 128 s off)
    assert micropython["pong"] == ["g05-x-000001", True, "pong", 1700190000000, 1700198100123]
    assert micropython["ms"] == [1700198100124, None, "1700198100.123", "0.007"]


def test_gestures_follow_the_shared_vectors_on_micropython(micropython: dict[str, Any]) -> None:
    """tests/vectors/gestures.json on real MicroPython: glitch, tap, chatter, slow double, hold,
    hold released early, lost edges (the Pi's detector runs the same file in test_gestures.py)."""
    vectors = json.loads((SHARED / "gestures.json").read_text())
    assert len(micropython["gesture_vectors"]) == len(vectors["cases"])
    for case, (got, bounces) in zip(vectors["cases"], micropython["gesture_vectors"]):
        assert (got, bounces) == (case["expect"], case["bounces"]), case["name"]


def test_segments_match_the_pi_agent(micropython: dict[str, Any]) -> None:
    assert micropython["segments"] == {k: SEGMENTS[k] for k in sorted(SEGMENTS)}
    assert micropython["encoded"][0] == segment_mapper("A012")
    content = DisplayContent("Gerai 5", "A012", 7, "MELAYANI")
    assert micropython["encoded"][1] == segment_mapper(seven_segment_text(content, 8))


def test_a_node_shows_the_pis_words(micropython: dict[str, Any]) -> None:
    """Every state on 4 and 8 digits, as real MicroPython shows it, is what the Pi's seven-segment
    display shows for the same gerai state (SIAP, JEDA, TUTUP/TUTP, ----, the number and the count)."""
    from antre.hardware.display import Mode, seven_segment_pages

    modes = {"serving": Mode.CALLING, "idle": Mode.IDLE, "paused": Mode.PAUSED, "closed": Mode.CLOSED,
             None: Mode.WAITING}
    assert len(micropython["words"]) == 5 * 6 * 3 * 2 * 2
    for status, ticket, waiting, digits, phase, shown in micropython["words"]:
        number = ticket if status == "serving" else None
        mode = Mode.IDLE if status == "serving" and number is None else modes[status]
        pages = seven_segment_pages(DisplayContent("Gerai 5", number, waiting, "", mode=mode), digits)
        assert shown.ljust(digits) == pages[phase % len(pages)], (status, ticket, waiting, digits, phase)


def test_backoff(micropython: dict[str, Any]) -> None:
    assert micropython["backoff"] == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert micropython["backoff_reset"] == 375


def test_heap_of_the_loop_on_micropython(micropython: dict[str, Any]) -> None:
    """Measured through the real umqtt.simple on MicroPython (the fake broker's own share taken out):
    a press cycle is the interrupt, the gesture, the command out, the PUBACK, reply and state in,
    the display; the largest pass is the one that reads and parses the reply and the state."""
    heap = micropython["heap"]
    print(f"MicroPython heap: press cycle {heap['press_cycles']} bytes, largest pass {heap['largest_pass']}, "
          f"idle pass {heap['idle_pass_max']}, keepalive pass {heap['keepalive_pass']}")
    assert heap["irq_no_alloc"], "the button interrupt allocated (a hard interrupt must not)"
    assert 0 < max(heap["press_cycles"]) < 6144
    assert heap["largest_pass"] < 4096
    assert heap["idle_pass_max"] <= 128  # the gesture detectors' result lists (firmware/antre_fw/gestures.py)
    assert heap["keepalive_pass"] <= 128


def test_ssd1306_draws_whole_numbers_without_allocating(micropython: dict[str, Any]) -> None:
    oled = micropython["ssd1306"]
    assert oled["no_alloc"], "an SSD1306 refresh allocated"
    assert oled["number_drawn"] and oled["waiting_drawn"]  # AB012 whole (3x), the waiting count below
    assert (oled["first_byte"], oled["length"]) == (0x40, 1025)  # one I2C transfer: data prefix + frame


def test_two_letter_prefixes(micropython: dict[str, Any]) -> None:
    # 4 digits: leading zeros of the sequence dropped as needed, else prefix and sequence in turn
    assert micropython["two_letter"] == ["AB12", "AB012  7", "AB", "123"]


# ------------------------------------------------- the main loop under CPython

def _node_module() -> Any:
    sys.path.insert(0, str(ROOT / "firmware"))
    try:
        from antre_fw import node
    finally:
        sys.path.remove(str(ROOT / "firmware"))
    return node


def test_bad_config_is_an_error_code_not_a_crash() -> None:
    node = _node_module()
    assert node.load_config("{nope")[1] == ["config.json is not valid JSON"]
    cfg, problems = node.load_config(json.dumps({"site": "test", "gerai": "g1", "buttons": [{"press": "fly"}]}))
    assert cfg is None and "missing wifi_ssid" in problems and "unknown action fly" in problems
    assert node.ERR_CONFIG == "E1"


def test_node_and_drivers_load_on_micropython(micropython: dict[str, Any]) -> None:
    assert micropython["tm1637_a"] == 0x77  # A B C E F G in TM1637's bit order (A = bit 0)
    assert micropython["config_ok"] == []
    assert "missing wifi_ssid" in micropython["config_problems"]
    assert "unknown action fly" in micropython["config_problems"]


NODE_TOML = """
[device]
site = "kupang"
id = "g05"
[wifi]
ssid = "MPP-Kupang"
password = "rahasia-wifi"
[broker]
host = "192.168.10.2"
password = "{password}"
[display]
type = "tm1637"
clk = 2
dio = 3
[[button]]
pin = 14
press = "call_next"
double = "recall"
hold = "no_show"
"""


def test_firmware_config_and_deploy_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from antre.cli import main

    device = tmp_path / "g05.toml"
    device.write_text(NODE_TOML.format(password="p" * 24), encoding="utf-8")
    assert main(["firmware", "config", "--config", str(device)]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["gerai"], cfg["broker_port"], cfg["buttons"][0]["hold"]) == ("g05", 1883, "no_show")
    assert main(["firmware", "deploy", "--port", "/dev/ttyACM0", "--config", str(device), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "mpremote connect /dev/ttyACM0 fs cp" in plan and ":antre_fw/node.py" in plan
    assert ":config.json" in plan and ":main.py" in plan and "mip install umqtt.simple" in plan
    bad = tmp_path / "bad.toml"
    bad.write_text(NODE_TOML.format(password="p" * 24).replace('press = "call_next"', 'press = "fly"'))
    assert main(["firmware", "config", "--config", str(bad)]) == 78  # EX_CONFIG
    assert "unknown action fly" in capsys.readouterr().err


def test_main_loop_on_micropython_with_the_real_umqtt(micropython: dict[str, Any], cpython: dict[str, Any]) -> None:
    """The node's loop on MicroPython over the real umqtt.simple and a scripted socket: it connects
    as its username, subscribes, announces itself, syncs the clock, and one press is one QoS 1
    command stamped with the central's time, answered, and shown."""
    loop = micropython["loop"]
    assert loop["connects"] == ["gerai.g05"] and loop["client_id"] == "gerai.g05"
    assert loop["will"][0] == "antre/v1/kupang/gerai/g05/presence" and loop["will"][2:] == [True, 1]
    assert codec.decode(loop["will"][1].encode(), "presence", m.Presence).online is False
    assert loop["subscribed"] == ["antre/v1/kupang/gerai/g05/state", "antre/v1/kupang/gerai/g05/reply"]
    presence = [p for p in loop["published"] if p[0].endswith("/presence")]
    assert presence[0][2:] == [1, True]
    assert codec.decode(presence[0][1].encode(), "presence", m.Presence).online is True
    cmds = [codec.decode(p[1].encode(), "cmd") for p in loop["published"] if p[0].endswith("/cmd")]
    pings = [c for c in cmds if isinstance(c, m.Ping)]
    presses = [(c, p[2]) for c, p in zip(cmds, [p for p in loop["published"] if p[0].endswith("/cmd")])
               if not isinstance(c, m.Ping)]
    assert pings and pings[0].ts is None  # before the first pong the node does not know the time
    assert len(presses) == 1 and isinstance(presses[0][0], m.CallNext) and presses[0][1] == 1
    assert presses[0][0].ts is not None and abs(presses[0][0].ts - 1700198100.0) < 1  # the central's clock
    assert loop["synced"] and loop["answered"] == 1 and loop["pending"] == 0
    assert loop["shown"] == ["SIAP  40", "A001  39"]
    assert loop["wdt_feeds"] >= 8 and loop["irq_hard"]
    assert micropython["epoch_rule"] == ["A006", "B001", 1]  # older epoch ignored, newer taken (rev 1)
    py = cpython["loop"]
    assert [json.loads(p[1])["kind"] for p in loop["published"]] == [json.loads(p[1])["kind"] for p in py["published"]]
    assert cpython["epoch_rule"][1:] == ["B001", 1]
