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
FAKES = ROOT / "tests" / "mpy_fakes"


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
                             str(VECTORS), str(FAKES)], capture_output=True, text=True, timeout=120)
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
                            env={**os.environ, "PYTHONPATH": f"{ROOT / 'firmware'}{os.pathsep}{FAKES}"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_runs_on_real_micropython(micropython: dict[str, Any]) -> None:
    assert micropython["implementation"] == "micropython"
    assert "MicroPython v1.27" in micropython["version"]


def test_same_results_on_micropython_and_cpython(micropython: dict[str, Any], cpython: dict[str, Any]) -> None:
    skip = {"implementation", "version", "press_cycle_heap_bytes", "press_cycle_gestures", "loop"}

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


def test_node_main_loop_over_a_real_broker_and_the_central(tmp_path: Path) -> None:
    import threading
    import time

    from broker.acl import Identity
    from broker.topics import Role
    from tests.firmware_fakes import FakeDisplay, FakePin, FakeWDT, FakeWLAN, umqtt_factory
    from tests.harness import Device, running_site

    node = _node_module()
    with running_site("mosquitto", tmp_path) as stack:
        site, broker = stack.site, stack.broker
        kiosk = None
        try:
            cfg = {"site": "test", "gerai": "g1", "wifi_ssid": "mpp", "broker_host": "127.0.0.1",
                   "broker_port": site.port, "password": site.secrets.password(Identity(Role.GERAI, "g1")),
                   "buttons": [{"pin": 14, "press": "call_next"}], "digits": 8}
            assert node.validate_config(cfg) == []
            irq = threading.Lock()
            pin, display, wdt = FakePin(irq_lock=irq), FakeDisplay(), FakeWDT()
            n = node.Node(cfg, FakeWLAN(), umqtt_factory, display, [(pin, cfg["buttons"][0])],
                          lambda: int(time.monotonic() * 1000), wdt,
                          disable_irq=irq.acquire, enable_irq=lambda state: irq.release())

            def run_until(condition: Any, timeout: float = 10.0) -> None:
                deadline = time.monotonic() + timeout
                while not condition():
                    assert time.monotonic() < deadline, f"timed out; display {display.shown[-3:]} refused {n.refused} sent {n.sent} buttons {vars(n.buttons[0][2])}"
                    n.step()

            run_until(lambda: n.online and n.state is not None)
            kiosk = Device(site, Role.KIOSK, "k1")
            kiosk.request(m.TakeTicket(id="k1-fw-000001", service="ktp"))
            run_until(lambda: display.shown[-1] == "----   1")  # nobody served, one waiting
            def press() -> None:
                # A finger: down now, up 80 ms later, whatever the main loop is busy with (the
                # interrupt records the time), like the pin interrupts on a board.
                pin.drive(0)
                threading.Timer(0.08, pin.drive, args=(1,)).start()

            press()
            run_until(lambda: display.shown[-1] == "A001   0")
            assert len(n.sent) == 1 and wdt.feeds > 0
            # the broker goes away: a press is refused at once, shown, not queued
            broker.stop()
            run_until(lambda: not n.online, 15)
            first_press_done = time.monotonic()
            run_until(lambda: time.monotonic() - first_press_done > 0.2)  # a person does not press twice in 8 ms
            press()
            run_until(lambda: n.refused == 1)
            assert display.shown[-1] == "OFF" and len(n.sent) == 1
        finally:
            if kiosk is not None:
                kiosk.close()


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
    assert main(["firmware", "config", "--config", str(bad)]) == 2
    assert "unknown action fly" in capsys.readouterr().err


def test_main_loop_on_micropython_with_fake_hardware(micropython: dict[str, Any], cpython: dict[str, Any]) -> None:
    loop = micropython["loop"]
    assert loop["will"][0] == "antre/v1/kupang/gerai/g05/presence" and loop["will"][2:] == [True, 1]
    assert codec.decode(loop["will"][1].encode(), "presence", m.Presence).online is False
    assert ["antre/v1/kupang/gerai/g05/state", 1] in [list(s) for s in loop["subscribed"]]
    cmds = [p for p in loop["published"] if p[0].endswith("/cmd")]
    assert len(cmds) == 1 and cmds[0][3] == 1  # one press, one QoS 1 command
    assert isinstance(codec.decode(cmds[0][1].encode(), "cmd"), m.CallNext)
    assert loop["shown"] == ["----", "A001"]
    assert loop["wdt_feeds"] >= 3
    assert json.loads(cmds[0][1]) == json.loads([p for p in cpython["loop"]["published"]
                                                 if p[0].endswith("/cmd")][0][1])
