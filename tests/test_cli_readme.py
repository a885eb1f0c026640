"""Every command README.md shows, and every command antre prints for a person to run, is run here.

As tests/test_protocol_doc.py decodes PROTOCOL.md's examples, this test takes
the command lines of README.md's ``sh`` blocks and its inline ``antre ...``
spans, and runs them in a scratch site: a copy of the example site on a free
loopback port, in a temporary directory (never the machine's own broker on
1883, never /etc or /var).  Long-running commands (``broker run``,
``central run``, ``lobby run``) are started, must become ready, and stop with
status 0 on SIGTERM.  Commands that a command prints (the hint of
``edge provision``, the install notes of ``broker mosquitto-config``) are run
the same way.

What cannot run here is listed with its reason (root, systemd, a board on
USB, the network) in :data:`NOT_RUN` and :data:`PRINTED_NOT_RUN`; those lines
are at least parsed (``bash -n``, or antre's own parser for antre commands).
A README command that fails is a bug in the README or in the CLI.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from antre.cli import build_tree
from tests.conftest import KUPANG, ROOT
from tests.harness import free_port, port_open, wait_for

README = ROOT / "README.md"
EXECUTABLES = ("antre", ".venv/bin/antre", "/opt/antre/venv/bin/antre")

#: Shell lines of README.md that this test does not run, and why.  Each is still parsed by bash.
NOT_RUN: dict[str, str] = {
    "make demo": "installs into .venv and plays the demo (the same demo runs in test_cli.py)",
    "make test": "the test suite this test is part of",
    "sudo useradd --system": "creates a system account (root)",
    "sudo mkdir -p /opt/antre /etc/antre": "creates system directories (root)",
    "git clone <antre repository> /opt/antre/src": "a placeholder address; the checkout is this tree",
    "sudo python3 -m venv --system-site-packages /opt/antre/venv": "a venv under /opt (the Pi's layout); "
    "tests/test_offline_install.py makes a fresh one and installs into it",
    "sudo /opt/antre/venv/bin/pip install --no-index --find-links /media/usb/antre-wheels-aarch64": "the Pi's "
    "aarch64 wheels into /opt; tests/test_offline_install.py installs this machine's wheelhouse the same way "
    "with the network off, and resolves the aarch64 one offline",
    "sudo systemctl stop antre-edge": "stops a systemd service (root, systemd)",
    "sudo systemctl start antre-edge": "starts a systemd service (root, systemd)",
    "journalctl -u antre-edge -f": "follows the journal until interrupted (systemd)",
    "sudo apt-get install -y chrony": "installs Debian packages (root, network)",
    "sudo tee /etc/chrony/conf.d/antre.conf": "configures the machine's chrony (root)",
    "sudo systemctl restart chrony": "restarts the machine's chrony (root, systemd)",
    "chronyc sources; chronyc tracking": "asks the machine's chrony (not installed here)",
    "timedatectl": "asks systemd-timedated (systemd)",
    "sudo apt-get install -y python3-venv mosquitto chrony": "installs Debian packages (root, network)",
    "python3 -m venv /opt/antre/venv && /opt/antre/venv/bin/pip install": "a venv under /opt from the network; "
    "the installs per extra are tested from a built wheel (tests/test_install.py)",
    "sudo install -o root -g antre -m 0640 kupang.toml /etc/antre/site.toml": "root and the antre account",
    "sudo /opt/antre/venv/bin/antre broker mosquitto-config": "writes into /etc/mosquitto (root); the same "
    "command runs here on a scratch directory (test_cli.py)",
    "sudo chgrp antre /etc/antre/kupang-credentials.toml": "root and the antre account",
    "sudo cp /opt/antre/src/central/antre-central.service": "installs systemd units (root); their ExecStart "
    "lines are parsed by test_systemd_units_run_a_command_antre_parses",
    "sudo systemctl daemon-reload && sudo systemctl enable --now antre-central": "starts systemd services",
    "systemctl status antre-central": "the machine's services (systemd)",
    "journalctl -u antre-central -p warning": "the machine's journal (systemd)",
    "sudo systemd-analyze security antre-central": "an installed unit (systemd); tests/test_services.py scores "
    "the unit files offline",
    "sudo systemctl stop antre-central": "stops a systemd service (root, systemd)",
    "cd /var/lib/antre": "the service's state directory on an installed central",
    "sudo -u antre mv kupang.db kupang.db.corrupt": "an installed central's log (root, the antre account); "
    "the restore from a backup is tested in tests/test_backup.py",
    "sudo -u antre cp \"$(ls backups/kupang-*.db | tail -n 1)\" kupang.db": "as above",
    "sudo systemctl start antre-central": "starts a systemd service (root, systemd)",
}

#: ``antre`` command lines of README's shell blocks that parse but do not run here, and why.
ANTRE_LINES_NOT_RUN: dict[str, str] = {
    "sudo -u antre /opt/antre/venv/bin/antre central --config /etc/antre/site.toml --new-epoch": "the restore "
    "procedure of an installed central (its log, its account); a central started with --new-epoch on a "
    "fresh log is tested in tests/test_faults.py",
    ".venv/bin/antre edge wheelhouse --arch aarch64 --extra edge --extra hdmi --out var/antre-wheels-aarch64":
    "downloads the Pi's wheels from PyPI (23 MB); tests/test_offline_install.py runs this same command and "
    "resolves its result for aarch64 with the network off",
}

#: Root commands of README's shell blocks that run here in the scratch site, changed as said (a shell line
#: prefix: why, and how)
RUN_IN_SCRATCH: dict[str, str] = {
    "sudo /opt/antre/venv/bin/antre edge setup": "run without sudo as `antre edge setup --root <scratch>/pi`: "
    "the device file and the unit go under the scratch directory and systemctl --root enables the unit; "
    "nobody presses the button, so its selftest fails (exit 1) and the unit is not enabled",
}

#: Inline ``antre ...`` commands of README.md that parse but do not run here, and why.
INLINE_NOT_RUN: dict[str, str] = {
    "antre console user add rina --role supervisor --config SITE.toml": "asks for a password on a terminal; "
    "tests/test_console_browser.py adds accounts the same way with --password-stdin",
    "antre demo --headless --duration SECONDS": "the headless demo over MQTT takes about a minute; "
    "test_cli.py::test_headless_demo_over_mqtt plays it",
    "antre firmware deploy --serial-port /dev/ttyACM0 --config g05.toml": "needs a MicroPython board on USB: "
    "run here with --dry-run, which prints the mpremote commands",
}

#: Commands printed by `antre broker mosquitto-config` that do not run here, and why.
PRINTED_NOT_RUN: dict[str, str] = {
    "apt-get update && apt-get install -y mosquitto mosquitto-clients": "installs Debian packages (root, network)",
    "mkdir -p /etc/systemd/system/mosquitto.service.d": "writes a systemd drop-in (root)",
    "printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/mosquitto -c %s\\n'": "writes a systemd drop-in (root)",
    "systemctl daemon-reload && systemctl enable mosquitto && systemctl restart mosquitto": "restarts the "
    "machine's Mosquitto (root, systemd)",
    "systemctl status mosquitto; journalctl -u mosquitto -n 20": "the machine's Mosquitto service (systemd)",
    "chown ": "ownership for the packaged Mosquitto (root and the 'mosquitto' account; "
    "as root the command makes these changes itself)",
}


# ------------------------------------------------------------------------------------------- reading README


@dataclass(frozen=True)
class ShellLine:
    text: str
    line: int  # in README.md


def shell_lines() -> list[ShellLine]:
    """The command lines of README's ``sh`` blocks: comments dropped, continuations joined."""
    text = README.read_text(encoding="utf-8")
    found: list[ShellLine] = []
    for match in re.finditer(r"```sh\n(.*?)\n```", text, flags=re.S):
        first = text.count("\n", 0, match.start(1)) + 1
        pending, start, heredoc = "", 0, ""
        for offset, raw in enumerate(match.group(1).split("\n")):
            if heredoc:  # the body of a here-document belongs to the command that opened it
                pending += raw + "\n"
                if raw.strip() == heredoc:
                    found.append(ShellLine(pending.rstrip("\n"), start))
                    pending, heredoc = "", ""
                continue
            if not pending:
                start = first + offset
            if raw.endswith("\\"):
                pending += raw[:-1] + " "
                continue
            opened = re.search(r"<<-?'?(\w+)'?", raw)
            if opened:
                pending += _strip_comment(raw).strip() + "\n"
                heredoc = opened.group(1)
                continue
            command = re.sub(r"\s+", " ", _strip_comment(pending + raw)).strip()
            if command:
                found.append(ShellLine(command, start))
            pending = ""
    return found


def _strip_comment(line: str) -> str:
    """``line`` without its ``# comment`` (a # outside quotes, at the start or after a space)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def inline_commands() -> list[str]:
    """The inline ``antre ...`` spans of README outside fenced blocks (line breaks joined)."""
    text = re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.S)
    spans = re.findall(r"(?<!`)`(antre [^`]+)`(?!`)", text)
    return [re.sub(r"\s+", " ", s).strip() for s in spans]


def antre_argv(command: str) -> list[str] | None:
    """The arguments after the antre executable, or None when ``command`` runs something else."""
    tokens = shlex.split(command)
    if tokens[:3] == ["sudo", "-u", "antre"]:
        tokens = tokens[3:]
    if tokens and tokens[0] in EXECUTABLES:
        return tokens[1:]
    return None


def without_optional(argv: list[str]) -> list[str]:
    """``[--bind 0.0.0.0]`` parts left out (what the test runs)."""
    out, depth = [], 0
    for token in argv:
        if token.startswith("["):
            depth += 1
        if depth == 0:
            out.append(token)
        if token.endswith("]"):
            depth -= 1
    return out


def with_optional(argv: list[str]) -> list[str]:
    """``[--bind 0.0.0.0]`` parts given (what the parser must accept too)."""
    return [t.lstrip("[").rstrip("]") for t in argv]


PLACEHOLDERS = {"SITE.toml": "site.toml", "ID": "1", "SECONDS": "0", "PORT": "/dev/ttyACM0"}


def parses(argv: list[str]) -> str | None:
    """None when antre's parser accepts ``argv`` (placeholders filled in), else argparse's message."""
    argv = [PLACEHOLDERS.get(a, a) for a in argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_tree().parse(argv)
        except SystemExit as exc:
            return None if exc.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


def command_path(argv: list[str]) -> tuple[str, ...]:
    """The leaf ``argv`` runs; ``("--help",)`` for a help request."""
    if "-h" in argv or "--help" in argv:
        return ("--help",)
    with contextlib.redirect_stdout(io.StringIO()):
        return build_tree().parse(argv).command.path


def names_a_command(argv: list[str]) -> bool:
    tree = build_tree()
    words = tuple(a for a in argv if not a.startswith("-"))
    return words in tree.commands or words in tree.groups


def printed_commands(output: str) -> list[str]:
    """``antre ...`` commands a command printed for a person to run (whole lines, or after ': ')."""
    found = []
    for line in output.splitlines():
        match = re.search(r"(?:^|:\s)(antre\s+[a-z][a-z-]*(?:\s.*)?)$", line.strip())  # not "antre demo: ..."
        if match:
            found.append(match.group(1).strip())
    return found


# --------------------------------------------------------------------------------- classification tests


def test_every_shell_line_is_run_or_listed_with_its_reason() -> None:
    lines = shell_lines()
    assert len(lines) >= 20, lines
    listed = set()
    for line in lines:
        if antre_argv(line.text) is not None:
            continue
        if any(line.text.startswith(prefix) for prefix in RUN_IN_SCRATCH):
            continue
        reason = next((r for prefix, r in NOT_RUN.items() if line.text.startswith(prefix)), None)
        assert reason, f"README.md:{line.line}: {line.text!r} is neither run by this test nor in NOT_RUN"
        listed.update(p for p in NOT_RUN if line.text.startswith(p))
        check = subprocess.run(["bash", "-n", "-c", line.text], capture_output=True, text=True)
        assert check.returncode == 0, f"README.md:{line.line}: bash cannot parse {line.text!r}: {check.stderr}"
    assert listed == set(NOT_RUN), f"stale NOT_RUN entries: {set(NOT_RUN) - listed}"


def test_every_antre_command_of_the_readme_parses() -> None:
    commands = [line.text for line in shell_lines()] + inline_commands()
    checked = 0
    for text in commands:
        argv = antre_argv(text)
        if argv is None:
            continue
        checked += 1
        full = with_optional(argv)
        problem = parses(full)
        if problem is not None:  # a mention of a command by name, e.g. `antre edge provision`
            assert names_a_command(full), f"README: {text!r} does not parse: {problem}"
    assert checked >= 15
    for text in INLINE_NOT_RUN:
        assert text in inline_commands(), f"INLINE_NOT_RUN: {text!r} is no longer in README.md"


@pytest.mark.parametrize("doc", ["broker/PROTOCOL.md", "bench/README.md", "firmware/README.md"])
def test_commands_in_the_other_documents_parse(doc: str) -> None:
    text = re.sub(r"```.*?```", "", (ROOT / doc).read_text(encoding="utf-8"), flags=re.S)
    for span in re.findall(r"(?<!`)`(antre [^`]+)`(?!`)", text):
        argv = with_optional(shlex.split(span)[1:])
        argv = [PLACEHOLDERS.get(a, a) for a in argv]
        assert parses(argv) is None or names_a_command(argv) or tuple(argv) in PENDING, f"{doc}: `{span}`"


def test_systemd_units_run_a_command_antre_parses() -> None:
    units = sorted(ROOT.glob("*/*.service"))
    assert units
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        env = dict(pair.split("=", 1) for line in text.splitlines() if line.startswith("Environment=")
                   for pair in shlex.split(line.removeprefix("Environment=")))
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                command = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)),
                                 line.removeprefix("ExecStart="))
                argv = antre_argv(command.lstrip("-+!@"))
                assert argv is not None, f"{unit}: {line}"
                assert parses(argv) is None, f"{unit}: {line}: {parses(argv)}"


#: commands named in docstrings before they exist (none now)
PENDING: set[tuple[str, ...]] = set()


def test_commands_named_in_the_sources_exist() -> None:
    """Messages and docstrings that tell a person to run `antre ...` name a real command."""
    sources = [p for p in (ROOT / "antre").rglob("*.py")] + [
        p for d in ("broker", "central", "edge", "lobby", "hardware", "console") for p in (ROOT / d).rglob("*.py")]
    seen = 0
    for path in sources:
        for span in re.findall(r"`+(antre [a-z][a-z -]*?)(?: --[^`]*)?`+", path.read_text(encoding="utf-8")):
            words = span.split()[1:]
            seen += 1
            assert names_a_command(words) or tuple(words) in PENDING, \
                f"{path.relative_to(ROOT)}: `{span}` names no antre command"
    assert seen >= 5


# ------------------------------------------------------------------------------------------ the scratch site


@dataclass
class Running:
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Scratch:
    """The example site in a temporary directory, on a free port, with its own caches."""

    dir: Path
    port: int = field(default_factory=free_port)
    running: list[Running] = field(default_factory=list)  # services
    others: list[Running] = field(default_factory=list)  # commands waiting for a person
    report: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.dir / "examples").mkdir()
        text = KUPANG.read_text(encoding="utf-8")
        assert text.count("\nport = 1883\n") == 1
        self.site = self.dir / "examples" / "kupang.toml"
        assert text.count("\nport = 8480\n") == 1  # the operations console's
        text = text.replace("\nport = 8480\n", f"\nport = {free_port()}\n")
        self.site.write_text(text.replace("\nport = 1883\n", f"\nport = {self.port}\n"), encoding="utf-8")
        script = Path(sys.executable).with_name("antre")
        self.exe = [str(script)] if script.exists() else [sys.executable, "-m", "antre"]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "ANTRE_MOCK": "1",  # hardware: mocks
                    "XDG_CACHE_HOME": str(self.dir / "cache"), "XDG_STATE_HOME": str(self.dir / "state"),
                    "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
        self.env.pop("ANTRE_REQUIRE_ALL", None)

    def credentials(self) -> Path:
        from antre.central.config import load_site

        return self.dir / load_site(self.site).broker.credentials

    def substitute(self, argv: list[str]) -> list[str]:
        """README's production paths become paths in the scratch directory."""
        paths = {
            "SITE.toml": self.site,
            "/etc/antre/site.toml": self.site,
            "/etc/mosquitto/antre": self.dir / "etc" / "mosquitto" / "antre",
            "kupang-credentials.toml": self.credentials(),
            "/tmp/g05.toml": self.dir / "tmp" / "g05.toml",
            "/tmp/g05.png": self.dir / "tmp" / "g05.png",
            "/media/usb/g05.toml": self.dir / "tmp" / "g05.toml",
            "/etc/antre/device.toml": self.dir / "pi" / "etc" / "antre" / "device.toml",
            "g05.toml": self.dir / "g05.toml",
            "192.168.10.2": "127.0.0.1",  # the central server's address: here, this machine
        }
        out = [str(paths.get(a, a)) for a in argv]
        if "mosquitto-config" in out and "--persistence" not in out:
            out += ["--persistence", str(self.dir / "mosquitto-data")]  # never this machine's /var/lib/mosquitto
        return out

    def run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.exe + argv, cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, argv: list[str], service: bool = True) -> Running:
        """Start ``argv``; a service is stopped with SIGTERM at the end and must exit 0."""
        log = self.dir / f"run-{len(self.running) + len(self.others)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(self.exe + argv, cwd=self.dir, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT)
        running = Running(argv, proc, log)
        (self.running if service else self.others).append(running)
        return running

    def stop_all(self) -> dict[str, int | None]:
        for other in self.others:
            if other.proc.poll() is None:
                other.proc.kill()
                other.proc.wait(10)
        statuses = {}
        for r in reversed(self.running):
            if r.proc.poll() is None:
                r.proc.send_signal(signal.SIGTERM)
            try:
                statuses[" ".join(r.argv)] = r.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                statuses[" ".join(r.argv)] = None
        return statuses


def _ready_broker(s: Scratch, r: Running) -> bool:
    return port_open(s.port)


#: how a long-running command shows it is ready
LONG_RUNNING: dict[tuple[str, ...], Callable[[Scratch, Running], bool]] = {
    ("broker", "run"): _ready_broker,
    ("central", "run"): lambda s, r: "antre central ready" in r.output(),
    ("lobby", "run"): lambda s, r: "connected to 127.0.0.1" in r.output(),
    ("console", "run"): lambda s, r: "antre console ready" in r.output(),
}

#: commands whose exit status in the scratch site is not 0, and why
EXIT_STATUS: dict[tuple[str, ...], tuple[int, str]] = {
    ("status",): (1, "the example site's gerai and kiosks do not run in the scratch site: status says so, exit 1"),
}

#: commands that wait for a person, run in the background; their status without one, and why
WAITS_FOR_A_PERSON: dict[tuple[str, ...], tuple[int, str]] = {
    ("edge", "selftest"): (1, "nobody presses the gerai's button in a test: the selftest reports "
                              "'FAIL   button panggil: no press seen within 15 s' and exits 1"),
}

#: what the selftests of README's commands must report in the scratch site (all but the button)
SELFTEST_LINES = ("OK     broker: 127.0.0.1:", "OK     credentials: the broker accepted gerai.g05",
                  "OK     own topics: antre/v1/kupang/gerai/g05/cmd -> central",
                  "OK     display oled: test pattern shown for 3 s", "OK     display matrix: test pattern shown for 3 s",
                  "OK     printer status: ok", "OK     test ticket: ok: printed", " WITA (the central's clock)",
                  "FAIL   button panggil: no press seen within 15 s (GPIO17, pin 11)")


def test_readme_commands_run_in_a_scratch_site(tmp_path: Path) -> None:
    s = Scratch(tmp_path)
    background: list[tuple[str, Running, int]] = []
    executed: list[str] = []
    ran: set[tuple[str, ...]] = set()

    def execute(text: str, argv: list[str], origin: str) -> str:
        """Run one command as README shows it (scratch paths); returns its output."""
        path = command_path(without_optional(argv))
        real = s.substitute(without_optional(argv))
        ran.add(path)
        if path in LONG_RUNNING:
            r = s.start(real)
            wait_for(lambda: LONG_RUNNING[path](s, r) or r.proc.poll() is not None, 30, f"{text} to be ready")
            assert r.proc.poll() is None, f"{origin}: {text!r} exited:\n{r.output()}"
            executed.append(f"{origin}: {text} (started, became ready)")
            return ""  # a service's output is its log, not instructions
        if path in WAITS_FOR_A_PERSON:
            background.append((f"{origin}: {text}", s.start(real, service=False), WAITS_FOR_A_PERSON[path][0]))
            executed.append(f"{origin}: {text} (in the background: {WAITS_FOR_A_PERSON[path][1]})")
            return ""
        if path == ("lobby", "voicepack", "build") and shutil.which("espeak-ng") is None:
            if os.environ.get("ANTRE_REQUIRE_ALL"):
                pytest.fail("espeak-ng is required (ANTRE_REQUIRE_ALL is set) but not installed")
            ran.discard(path)
            s.report.append(f"NOT RUN {origin}: {text}: espeak-ng is not installed")
            return ""
        result = s.run(real)
        expected = EXIT_STATUS.get(path, (0, ""))[0]
        assert result.returncode == expected, (f"{origin}: {text!r} -> {result.returncode}\n{result.stdout}\n"
                                               f"{result.stderr}")
        executed.append(f"{origin}: {text}")
        return result.stdout

    try:
        (s.dir / "g05.toml").write_text(_node_file(), encoding="utf-8")
        (s.dir / "tmp").mkdir()
        for line in shell_lines():
            argv = antre_argv(line.text)
            if argv is None:
                if any(line.text.startswith(prefix) for prefix in RUN_IN_SCRATCH):  # `sudo .../antre edge setup`
                    setup = s.substitute(shlex.split(line.text)[2:]) + ["--root", str(s.dir / "pi")]
                    result = s.run(setup)
                    assert result.returncode == 1, (line.text, result.stdout, result.stderr)
                    for expected in SELFTEST_LINES + ("antre-edge.service NOT enabled",):
                        assert expected in result.stdout, (expected, result.stdout)
                    assert (s.dir / "pi" / "etc" / "systemd" / "system" / "antre-edge.service").exists()
                    ran.add(("edge", "setup"))
                    executed.append(f"README.md:{line.line}: {line.text} (as {' '.join(setup)})")
                continue
            origin = f"README.md:{line.line}"
            if line.text in ANTRE_LINES_NOT_RUN:
                assert parses(argv) is None, f"{origin}: {line.text!r} does not parse: {parses(argv)}"
                s.report.append(f"NOT RUN {origin}: {line.text}: {ANTRE_LINES_NOT_RUN[line.text]}")
                continue
            out = execute(line.text, argv, origin)
            if argv == ["--help"]:
                assert all(c in out for c in ("demo", "central", "broker", "edge", "lobby", "firmware")), out
            for printed in printed_commands(out):  # e.g. provision's "test it at the gerai with: antre ..."
                printed_argv = antre_argv(printed)
                assert printed_argv is not None and parses(with_optional(printed_argv)) is None, printed
                execute(printed, printed_argv, f"printed by {origin}")
            if "mosquitto-config" in argv:
                _mosquitto_notes(s, out)
        for text in inline_commands():
            argv = antre_argv(text)
            assert argv is not None
            if text in INLINE_NOT_RUN:
                s.report.append(f"NOT RUN README (inline): {text}: {INLINE_NOT_RUN[text]}")
                if "deploy" in argv:
                    plan = s.run(s.substitute(argv) + ["--dry-run"])
                    assert plan.returncode == 0 and "mpremote connect /dev/ttyACM0 fs cp" in plan.stdout, plan
                continue
            if parses(with_optional(argv)) is not None or command_path(without_optional(argv)) in LONG_RUNNING:
                continue  # a command named in prose, or a service its code block already started
            execute(text, argv, "README.md (inline)")
        for origin, r, expected in background:
            status = r.proc.wait(timeout=60)
            assert status == expected, f"{origin}: exit {status}, expected {expected}\n{r.output()}"
            for expected in SELFTEST_LINES:
                assert expected in r.output(), (expected, r.output())
    finally:
        statuses = s.stop_all()
    for argv, status in statuses.items():
        assert status == 0, f"{argv}: exit {status} after SIGTERM"
    assert len(background) == 1  # README's selftest by hand
    assert {("broker", "run"), ("central", "run"), ("lobby", "run"), ("lobby", "say"), ("edge", "bundle"),
            ("edge", "setup"), ("edge", "selftest"), ("broker", "mosquitto-config"), ("audit",), ("check-config",),
            ("demo",), ("firmware", "config"), ("quarantine",), ("--help",)} <= ran
    assert stat.S_IMODE((s.dir / "tmp" / "g05.toml").stat().st_mode) == 0o600  # the bundle, and its QR code
    assert (s.dir / "tmp" / "g05.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print("\n".join(["executed:"] + executed + s.report))


def _node_file() -> str:
    from tests.test_firmware import NODE_TOML  # README points technicians at this example

    return NODE_TOML.format(password="p" * 24)


def _mosquitto_notes(s: Scratch, output: str) -> None:
    """Every other command of the install notes is listed with the reason it does not run here."""
    for text in PRINTED_NOT_RUN:
        assert text in output, f"mosquitto-config no longer prints {text!r}: update PRINTED_NOT_RUN"
        s.report.append(f"NOT RUN printed by mosquitto-config: {text}...: {PRINTED_NOT_RUN[text]}")
    for line in output.splitlines():
        if any(line.strip().startswith(p) for p in ("apt-get", "mkdir", "printf", "systemctl", "chown", "chmod")):
            assert subprocess.run(["bash", "-n", "-c", line.strip()]).returncode == 0, line
    s.report.append("printed by mosquitto-config: mosquitto_sub ...: run by "
                    "test_mosquitto_config_notes_check_command_runs_against_mosquitto")


def test_mosquitto_config_notes_check_command_runs_against_mosquitto(tmp_path: Path) -> None:
    """The install notes end with a mosquitto_sub check as monitor.ops: it works on a generated config."""
    from antre.broker.admin.acl import Identity
    from antre.broker.link.client import MqttLink
    from antre.broker.wire.topics import Role
    from antre.cli import main
    from tests.harness import BrokerProc, Site

    require = shutil.which("mosquitto_sub")
    site = Site(tmp_path, free_port())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["broker", "mosquitto-config", "--config", str(site.config_path), "--out",
                     str(tmp_path / "etc"), "--persistence", str(tmp_path / "data")]) == 0
    line = next(l.strip() for l in out.getvalue().splitlines() if l.strip().startswith("mosquitto_sub "))
    assert subprocess.run(["bash", "-n", "-c", line]).returncode == 0
    if require is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("mosquitto_sub is required (ANTRE_REQUIRE_ALL is set) but not installed")
        pytest.skip("mosquitto-clients is not installed")
    broker = BrokerProc("mosquitto", site)
    broker.start()
    try:
        central = MqttLink(site.address(Identity(Role.CENTRAL)), subscriptions=[], on_message=lambda m: None)
        central.start()
        assert central.wait_connected(10)
        central.publish("antre/v1/test/board", b'{"probe": 1}', qos=1, retain=True).wait_for_publish(5)
        central.stop()
        filled = (line.replace("HOST", "127.0.0.1").replace("PORT", str(site.port))
                  .replace("SECRET", site.secrets.password("monitor.ops")).replace("SITE", "test"))
        started = time.monotonic()
        result = subprocess.run(["bash", "-c", filled], capture_output=True, text=True, timeout=30)
    finally:
        broker.stop()
    # the retained board arrives at once; -W 5 then ends the wait (mosquitto_sub's status 27: timed out)
    assert 'antre/v1/test/board {"probe": 1}' in result.stdout, (result.returncode, result.stdout, result.stderr)
    assert result.returncode in (0, 27) and time.monotonic() - started < 20, result
