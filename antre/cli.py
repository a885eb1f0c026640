"""The ``antre`` command: one entry point, one subcommand per role.

Subcommands import their modules lazily, so ``antre --help`` works without
the optional hardware or display libraries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from antre import __version__

if TYPE_CHECKING:
    from broker.client import BrokerAddress

log = logging.getLogger("antre")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return port


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        w = h = 0
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"{text!r} is not a screen size like 1920x1080")
    return w, h


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration in seconds (0-86400)")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="antre",
        description="antre: queue controller for the gerai of a Mal Pelayanan Publik.",
    )
    parser.add_argument("--version", action="version", version=f"antre {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo", help="the laptop demo: embedded broker, central service and simulated gerai on MQTT",
        description="In a terminal: an interactive demo where you take tickets and press gerai buttons. "
        "With --headless (or without a terminal): plays a scripted morning over MQTT and prints a summary.",
    )
    demo.add_argument("--config", default="examples/kupang.toml", help="site config file (TOML)")
    demo.add_argument("--headless", action="store_true", help="play the scripted morning unattended")
    demo.add_argument("--duration", type=_seconds, default=20.0,
                      help="wall-clock seconds the headless morning takes (0: as fast as possible)")
    demo.add_argument("--engine-only", action="store_true",
                      help="play the morning straight through the queue engine, without MQTT")
    demo.add_argument("--date", type=_date, help="the day to play (default: the next working Friday)")
    demo.add_argument("--db", help="with --engine-only: keep the event log in this file")
    demo.add_argument("--seed", type=int, default=2023, help="random seed of the arrivals")
    demo.add_argument("--snapshots", default="var/demo-displays",
                      help="headless: save PNG snapshots of every number display here at the end")

    central = sub.add_parser("central", help="run the queue service of a site on MQTT (until SIGTERM)")
    central.add_argument("--config", required=True, help="site config file (TOML)")
    central.add_argument("--broker-host", help="override broker.host of the config")
    central.add_argument("--broker-port", type=_port, help="override broker.port of the config")
    central.add_argument("--credentials", help="override broker.credentials of the config")
    central.add_argument("--db", help="override store.path of the config")
    central.add_argument("--simulate-from", metavar="ISO_TIME", help=argparse.SUPPRESS)  # demo only
    central.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)  # demo only

    broker = sub.add_parser(
        "broker", help="run the embedded MQTT broker, or generate a Mosquitto configuration",
        description="Without a subcommand: run the embedded broker (amqtt, MQTT 3.1.1) for a site, "
        "with per-device credentials and ACLs, bound to loopback unless told otherwise.",
    )
    broker.add_argument("--config", required=True, help="site config file (TOML)")
    broker.add_argument("--bind", help="listen address (default: broker.bind of the config)")
    broker.add_argument("--port", type=_port, help="listen port (default: broker.port of the config)")
    broker.add_argument("--credentials", help="credentials file (default: broker.credentials of the config)")
    broker_sub = broker.add_subparsers(dest="broker_command", metavar="SUBCOMMAND")
    mosq = broker_sub.add_parser("mosquitto-config", help="write mosquitto.conf, passwd and acl for the site")
    mosq.add_argument("--out", required=True, help="directory to write (e.g. /etc/mosquitto/antre)")
    mosq.add_argument("--run-as", help="Mosquitto's 'user' option (default: leave Mosquitto's default)")
    mosq.add_argument("--persistence", help="persistence_location (default: leave Mosquitto's default)")

    edge = sub.add_parser("edge", help="the gerai agent: run it, test the hardware, or write a device config")
    edge.add_argument("--config", help="device config file (TOML); required to run the agent")
    edge_sub = edge.add_subparsers(dest="edge_command", metavar="SUBCOMMAND")
    st = edge_sub.add_parser("selftest", help="test pattern, test ticket, printer status, each button in turn")
    st.add_argument("--config", dest="selftest_config", required=True, help="device config file (TOML)")
    st.add_argument("--button-timeout", type=_seconds, default=15.0, help="seconds to wait for each button")
    pv = edge_sub.add_parser("provision", help="write a device config from the site's credentials")
    pv.add_argument("--site", required=True)
    pv.add_argument("--role", choices=["gerai", "kiosk"], default="gerai")
    pv.add_argument("--id", required=True, help="gerai or kiosk id, e.g. g05")
    pv.add_argument("--broker-host", required=True)
    pv.add_argument("--broker-port", type=_port, default=1883)
    pv.add_argument("--credentials", required=True, help="the site's credentials file (from antre broker)")
    pv.add_argument("--out", required=True, help="device config to write (mode 0600)")
    pv.add_argument("--display", choices=["ssd1306", "sh1106", "max7219", "none"], default="ssd1306")
    pv.add_argument("--printer", help="serial port of the ticket printer, e.g. /dev/serial0")
    pv.add_argument("--paper-mm", type=int, choices=[58, 80], default=58)
    pv.add_argument("--button", action="append", default=[], metavar="NAME:PIN:PRESS[:DOUBLE[:HOLD]]",
                    help="e.g. panggil:17:call_next:recall:no_show (repeat for a keypad)")
    pv.add_argument("--service", help="the service of take-ticket buttons")
    pv.add_argument("--mock", action="store_true", help="mock hardware (a laptop)")

    lobby = sub.add_parser(
        "lobby", help="a lobby screen and its voice announcements; render, say, voicepack",
        description="Without a subcommand: run a lobby screen (pygame) with its loudspeaker, on MQTT.",
    )
    lobby.add_argument("--config", dest="lobby_config", help="site config file (TOML) with the [[lobby]] section")
    lobby.add_argument("--lobby", default="lobby-1", help="lobby id of the site config (default lobby-1)")
    lobby.add_argument("--broker-host", dest="lobby_host", help="override broker.host of the config")
    lobby.add_argument("--broker-port", dest="lobby_port", type=_port, help="override broker.port of the config")
    lobby.add_argument("--credentials", dest="lobby_credentials", help="override broker.credentials of the config")
    lobby.add_argument("--size", type=_size, help="window size, e.g. 1280x720 (default: full screen)")
    lobby.add_argument("--no-audio", action="store_true", help="screen only")
    lobby.add_argument("--pack", dest="lobby_pack", help="voice pack folder (default: the espeak-ng pack)")
    lobby_sub = lobby.add_subparsers(dest="lobby_command", metavar="SUBCOMMAND")
    rnd = lobby_sub.add_parser("render", help="write a PNG of the board (current retained state, or a sample)")
    rnd.add_argument("--config", dest="render_config", required=True, help="site config file (TOML)")
    rnd.add_argument("--out", required=True, help="PNG file to write")
    rnd.add_argument("--size", dest="render_size", type=_size, default=(1920, 1080), help="e.g. 1280x720")
    rnd.add_argument("--sample", action="store_true", help="a sample board, without connecting")
    rnd.add_argument("--lobby", dest="render_lobby", default="lobby-1")
    say = lobby_sub.add_parser("say", help="print the words and clips of an announcement; --play plays it")
    say.add_argument("ticket", help="ticket number, e.g. A012")
    say.add_argument("--gerai", required=True, help="gerai number (e.g. 5) or name")
    say.add_argument("--agency", help="also say the agency's name")
    say.add_argument("--recall", action="store_true", help="announce it as a repeated call")
    say.add_argument("--play", action="store_true", help="play it through the sound card")
    say.add_argument("--pack", help="voice pack folder (default: the espeak-ng pack in the cache)")
    vp = lobby_sub.add_parser("voicepack", help="voice packs")
    vp_sub = vp.add_subparsers(dest="voicepack_command", metavar="SUBCOMMAND", required=True)
    vb = vp_sub.add_parser("build", help="generate the default pack with espeak-ng's Indonesian voice")
    vb.add_argument("--out", help="folder (default: ~/.cache/antre/voicepacks/espeak-id)")
    vb.add_argument("--config", help="site config: also record each agency's name")

    fw = sub.add_parser("firmware", help="MicroPython gerai nodes: board config and deployment")
    fw_sub = fw.add_subparsers(dest="firmware_command", metavar="SUBCOMMAND", required=True)
    fc = fw_sub.add_parser("config", help="print the config.json a node's device file would write")
    fc.add_argument("--config", dest="fw_config", required=True, help="node device file (TOML)")
    fd = fw_sub.add_parser("deploy", help="copy the application and its config to a board with mpremote")
    fd.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyACM0")
    fd.add_argument("--config", dest="fw_config", required=True, help="node device file (TOML)")
    fd.add_argument("--dry-run", action="store_true", help="print the mpremote commands instead")

    check = sub.add_parser("check-config", help="validate a site config file and summarise it")
    check.add_argument("config", help="site config file (TOML)")

    audit = sub.add_parser("audit", help="print the audit trail of a day from the event log")
    audit.add_argument("--config", required=True, help="site config file (TOML)")
    audit.add_argument("--db", help="event log (default: store.path of the config)")
    audit.add_argument("--date", type=_date, help="local day to print (default: the latest day in the log)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = args.command in ("demo", "check-config", "audit", "lobby") or getattr(args, "edge_command", None) or (
        args.command == "broker" and getattr(args, "broker_command", None) == "mosquitto-config"
    )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from broker.credentials import CredentialsError
    from central.config import ConfigError
    from edge.config import EdgeConfigError
    from central.store import StorageError

    try:
        if args.command == "central":
            return _central(args)
        if args.command == "broker":
            return _broker(args)
        if args.command == "edge":
            return _edge(args)
        if args.command == "lobby":
            return _lobby(args)
        if args.command == "firmware":
            return _firmware(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "audit":
            return _audit(args)
    except ConfigError as exc:
        print(f"antre: config error: {exc}", file=sys.stderr)
        return 2
    except EdgeConfigError as exc:
        print(f"antre: device config error: {exc}", file=sys.stderr)
        return 2
    except CredentialsError as exc:
        print(f"antre: credentials error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"antre: storage error: {exc}", file=sys.stderr)
        return 3
    raise AssertionError(args.command)  # pragma: no cover


def _demo(args: argparse.Namespace) -> int:
    from central.config import load_site
    from central.demo import run_morning

    config = load_site(args.config)
    if args.engine_only:
        run_morning(config, sys.stdout, day=args.date, db_path=args.db, seed=args.seed)
        return 0
    from antre.demo import main as demo_main

    from pathlib import Path

    return demo_main(config, args.headless, args.duration, args.date, args.seed, Path(args.snapshots))


def _check_config(args: argparse.Namespace) -> int:
    from central.config import load_site

    config = load_site(args.config)
    print(f"{args.config}: OK: {config.site.name} ({config.site_id}), zone {config.site.timezone} "
          f"({config.zone_abbrev()})")
    print(f"  {len(config.agencies)} agencies, {len(config.services)} services, "
          f"{len(config.gerai)} gerai, {len(config.kiosks)} kiosks")
    for sid, svc in config.services.items():
        quota = "no quota" if svc.daily_quota is None else f"quota {svc.daily_quota}"
        gerai = ", ".join(str(g.number) for g in config.gerai_for_service(sid))
        print(f"  {svc.prefix:<3}{sid:<10} {svc.name[:48]:<49} {quota:<10} gerai {gerai}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from central.audit import print_audit
    from central.config import load_site
    from central.store import EventStore

    config = load_site(args.config)
    store = EventStore(args.db or config.store.path, config.site_id, config.store.durability)
    try:
        print_audit(config, store, args.date, sys.stdout)
    except BrokenPipeError:  # `antre audit | head`
        pass
    finally:
        store.close()
    return 0


def _central(args: argparse.Namespace) -> int:
    from central.config import load_site
    from central.main import parse_clock, run_central

    config = load_site(args.config)
    try:
        clock = parse_clock(args.simulate_from, args.speed, config.zone)
    except ValueError:
        print(f"antre: --simulate-from {args.simulate_from!r} is not an ISO time", file=sys.stderr)
        return 2
    return run_central(
        config, host=args.broker_host, port=args.broker_port, db=args.db,
        credentials_path=args.credentials, clock=clock,
    )


def _broker(args: argparse.Namespace) -> int:
    from broker.main import install_notes, mosquitto_config, run_embedded
    from broker.mosquitto import ListenerSettings
    from central.config import load_site

    config = load_site(args.config)
    b = config.broker
    credentials = args.credentials or b.credentials
    bind, port = args.bind or b.bind, args.port or b.port
    if args.broker_command == "mosquitto-config":
        listener = ListenerSettings(bind, port, b.cafile, b.certfile, b.keyfile)
        paths = mosquitto_config(config.site_id, config.identities(), credentials, args.out, listener,
                                 args.run_as, args.persistence)
        print("wrote " + ", ".join(str(p) for p in paths))
        print(install_notes(args.out, credentials))
        return 0
    return run_embedded(config.site_id, config.identities(), credentials, bind, port)


def _edge(args: argparse.Namespace) -> int:
    from edge import main as edge_main

    if args.edge_command == "selftest":
        return edge_main.selftest(args.selftest_config, sys.stdout, timeout=args.button_timeout)
    if args.edge_command == "provision":
        path = edge_main.provision(
            site=args.site, role=args.role, device=args.id, host=args.broker_host, port=args.broker_port,
            credentials=args.credentials, out=args.out, display=args.display, printer=args.printer,
            paper_mm=args.paper_mm, buttons=args.button, service=args.service, mock=args.mock,
        )
        print(f"wrote {path} (mode 0600); test it at the gerai with: antre edge selftest --config {path}")
        return 0
    if not args.config:
        print("antre edge: --config DEVICE.toml is required", file=sys.stderr)
        return 2
    return edge_main.run(args.config)


def _lobby(args: argparse.Namespace) -> int:
    from pathlib import Path

    from central.lobby import voicepack
    from central.lobby.speech import announcement

    if args.lobby_command in (None, "render"):
        return _lobby_screen(args)
    if args.lobby_command == "voicepack":
        agencies: list[str] = []
        if args.config:
            from central.config import load_site

            agencies = [a.short for a in load_site(args.config).agencies.values()]
        out = Path(args.out) if args.out else voicepack.default_cache()
        try:
            paths = voicepack.build(out, agencies)
        except FileNotFoundError as exc:
            print(f"antre: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(paths)} clips to {out}")
        return 0
    gerai_number = int(args.gerai) if args.gerai.isdigit() else None
    try:
        a = announcement(args.ticket, gerai_number, args.gerai, args.agency, recall=args.recall)
    except ValueError as exc:
        print(f"antre: {exc}", file=sys.stderr)
        return 2
    pack_dir = Path(args.pack) if args.pack else voicepack.default_cache()
    pack = voicepack.VoicePack.load(pack_dir)
    print(a.text)
    print("clips: " + " ".join(a.clips))
    missing = pack.missing(a.clips)
    if missing:
        print(f"missing in {pack.source}: {' '.join(missing)}")
    if args.play:
        import pygame

        pcm = pack.render(a.clips)
        pygame.mixer.pre_init(frequency=voicepack.RATE, size=-16, channels=1)
        pygame.mixer.init()
        channel = pygame.mixer.Sound(buffer=pcm).play()
        seconds = len(pcm) / 2 / voicepack.RATE
        pygame.time.wait(int(seconds * 1000) + 100)  # let it finish before the process exits
        print(f"played {seconds:.1f} s")
        del channel
    return 0


def _lobby_screen(args: argparse.Namespace) -> int:
    import os
    import signal
    import threading
    from pathlib import Path

    from broker.acl import Identity
    from broker.topics import Role
    from central.config import load_site
    from central.lobby.app import LobbyApp, default_journal
    from central.lobby.voicepack import VoicePack, default_cache
    from central.main import broker_address

    if args.lobby_command == "render":
        config = load_site(args.render_config)
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        if args.sample:
            from central.lobby.screen import sample_board

            app = LobbyApp(config, args.render_lobby, _offline_address(), pack=None, journal=None)
            app.board = sample_board(config.site_id, config.site.name)
        else:
            address = broker_address(config, Identity(Role.LOBBY, args.render_lobby))
            app = LobbyApp(config, args.render_lobby, address, pack=None, journal=None)
            app.link.start()
            app.board_seen.wait(5)  # the retained board arrives right after subscribing
            app.link.stop()
            if app.board is None:
                print("antre: no retained board on the broker (is antre central running?)", file=sys.stderr)
                return 1
        app.snapshot(args.out, args.render_size)
        print(f"wrote {args.out} ({args.render_size[0]}x{args.render_size[1]})")
        return 0
    if not args.lobby_config:
        print("antre lobby: --config SITE.toml is required", file=sys.stderr)
        return 2
    config = load_site(args.lobby_config)
    if args.lobby not in config.lobbies:
        print(f"antre lobby: no [[lobby]] with id {args.lobby!r} in {args.lobby_config}", file=sys.stderr)
        return 2
    address = broker_address(config, Identity(Role.LOBBY, args.lobby), args.lobby_host, args.lobby_port,
                             args.lobby_credentials)
    pack = None if args.no_audio else VoicePack.load(Path(args.lobby_pack) if args.lobby_pack else default_cache())
    app = LobbyApp(config, args.lobby, address, pack=pack, journal=default_journal(args.lobby))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    app.start()
    try:
        app.run_screen(stop, args.size)
    finally:
        app.stop()
    return 0


def _offline_address() -> "BrokerAddress":
    """A placeholder address for offline rendering (the link is never started)."""
    from broker.client import BrokerAddress

    return BrokerAddress("127.0.0.1", 1, None, None)


def _firmware(args: argparse.Namespace) -> int:
    import json

    from antre.firmware_tool import FirmwareConfigError, board_config, deploy

    try:
        if args.firmware_command == "config":
            print(json.dumps(board_config(args.fw_config), indent=1))
            return 0
        return deploy(args.port, args.fw_config, args.dry_run)
    except FirmwareConfigError as exc:
        print(f"antre: firmware config error: {exc}", file=sys.stderr)
        return 2
