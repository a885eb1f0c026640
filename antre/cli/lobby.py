"""``antre lobby run | render | say | voicepack build | voicepack check``: a lobby screen and its voice."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from antre.broker.errors import MissingToolError
from antre.cli.central import BROKER_HOST, BROKER_PORT, CREDENTIALS
from antre.cli.tree import SITE_FILE, CommandTree, OptionError, Use
from antre.cli.values import size

if TYPE_CHECKING:
    from antre.broker.link.client import BrokerAddress
    from antre.central.config import SiteConfig


def register(tree: CommandTree) -> None:
    tree.group("lobby", help="a lobby screen and its voice announcements", default="run")
    uses = {"config": SITE_FILE.required(), "broker_host": BROKER_HOST, "broker_port": BROKER_PORT,
            "credentials": CREDENTIALS, "lobby": Use(default="lobby-1")}
    p = tree.command(
        "lobby run", _run, help="run a lobby screen (pygame) with its loudspeaker, on MQTT (until SIGTERM)",
        uses=uses, quiet=False,
    )
    p.add_argument("--size", type=size, metavar="WxH", help="window size, e.g. 1280x720 (default: full screen)")
    p.add_argument("--no-audio", action="store_true", help="screen only")
    p.add_argument("--pack", metavar="DIR", help="voice pack folder (default: the espeak-ng pack in the cache)")

    p = tree.command(
        "lobby render", _render, help="write a PNG of the board (the broker's retained board, or a sample)",
        uses=uses,
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the PNG file to write")
    p.add_argument("--size", type=size, default="1920x1080", metavar="WxH", help="image size")
    p.add_argument("--sample", action="store_true",
                   help="a busy sample morning of the site, without connecting to the broker")
    p.add_argument("--page", type=int, default=0, metavar="N",
                   help="which page of the rotating area (gerai, services, information) to draw")
    p.add_argument("--offline", action="store_true",
                   help="draw it as the lobby shows a lost connection (the KONEKSI TERPUTUS banner)")

    p = tree.command("lobby say", _say, help="print the words and clips of an announcement; --play plays it")
    p.add_argument("ticket", metavar="TICKET", help="ticket number, e.g. A012")
    p.add_argument("--gerai", required=True, metavar="GERAI", help="gerai number (e.g. 5) or name")
    p.add_argument("--agency", metavar="NAME", help="also say the agency's name")
    p.add_argument("--short", action="store_true", help="the short form said when calls queue up")
    p.add_argument("--recall", action="store_true", help="announce it as a repeated call")
    p.add_argument("--play", action="store_true", help="play it through the sound card")
    p.add_argument("--pack", metavar="DIR", help="voice pack folder (default: the espeak-ng pack in the cache)")

    tree.group("lobby voicepack", help="voice packs: folders of recorded words")
    p = tree.command(
        "lobby voicepack build", _voicepack_build,
        help="generate the default voice pack with espeak-ng's Indonesian voice",
        uses={"config": Use(help="a site file: also record each agency's name", metavar="SITE.toml")},
    )
    p.add_argument("--out", metavar="DIR", help="the folder (default: ~/.cache/antre/voicepacks/espeak-id)")

    p = tree.command(
        "lobby voicepack check", _voicepack_check,
        help="check that a voice pack has every clip the site's lobbies can need, readable",
        uses={"config": SITE_FILE.required(),
              "lobby": Use(help="only this lobby (default: every lobby of the site)")},
    )
    p.add_argument("--pack", metavar="DIR", help="voice pack folder (default: the espeak-ng pack in the cache)")


def _address(config: SiteConfig, lobby: str, args: argparse.Namespace) -> BrokerAddress:
    from antre.broker.admin.acl import Identity
    from antre.broker.wire.topics import Role
    from antre.central.main import broker_address

    if lobby not in config.lobbies:
        raise OptionError(f"--lobby {lobby}: no [[lobby]] with that id in {args.config}")
    return broker_address(config, Identity(Role.LOBBY, lobby), args.broker_host, args.broker_port,
                          args.credentials)


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading
    from pathlib import Path

    from antre.central.config import load_site
    from antre.lobby.app import LobbyApp, default_journal
    from antre.lobby.voicepack import VoicePack, default_cache

    config = load_site(args.config)
    address = _address(config, args.lobby, args)
    pack = None if args.no_audio else VoicePack.load(Path(args.pack) if args.pack else default_cache())
    app = LobbyApp(config, args.lobby, address, pack=pack, journal=default_journal(args.lobby))
    problems = app.check_pack()
    if problems:  # the screen still runs: a call whose clip is missing gets the chime, and the log says which
        print(f"antre: voice pack {pack.source if pack else ''} lacks what lobby {args.lobby} can need "
              f"({len(problems)} clips): {'; '.join(problems[:20])}{' ...' if len(problems) > 20 else ''}; "
              "build one with `antre lobby voicepack build --config SITE.toml`", file=sys.stderr)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from antre.daemon import lobby_service  # READY=1 after the first frame, WATCHDOG=1 while frames are drawn

    app.start()
    try:
        with lobby_service(app, args.lobby):
            app.run_screen(stop, args.size)
    finally:
        app.stop()
    return 0


def _render(args: argparse.Namespace) -> int:
    import os

    from antre.broker.link.client import BrokerAddress
    from antre.central.config import load_site
    from antre.lobby.app import LobbyApp

    config = load_site(args.config)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if args.sample:
        from antre.lobby.sample import sample_messages, sample_time

        if args.lobby not in config.lobbies:
            raise OptionError(f"--lobby {args.lobby}: no [[lobby]] with that id in {args.config}")
        offline = BrokerAddress("127.0.0.1", 1, None, None)  # never connected
        app = LobbyApp(config, args.lobby, offline, pack=None, journal=None)
        messages, calls = sample_messages(config, sample_time(config))
        for topic, payload in messages:
            app.receive(topic, payload)
        for call in calls:
            app.take_call(call)
        app.snapshot(args.out, args.size, connected=not args.offline, page=args.page)
    else:
        import threading

        app = LobbyApp(config, args.lobby, _address(config, args.lobby, args), pack=None, journal=None)
        app.link.start()
        try:
            app.board_seen.wait(5)  # the retained states arrive right after subscribing
            if app.board is None:
                print("antre: no retained site state on the broker (is antre central running?)", file=sys.stderr)
                return 1
            threading.Event().wait(0.5)  # the rest of the retained states (one message per gerai and service)
            app.snapshot(args.out, args.size, connected=False if args.offline else None, page=args.page)  # while connected
        finally:
            app.link.stop()
    print(f"wrote {args.out} ({args.size[0]}x{args.size[1]})")
    return 0


def _say(args: argparse.Namespace) -> int:
    from pathlib import Path

    from antre.lobby import voicepack
    from antre.lobby.speech import announcement

    gerai_number = int(args.gerai) if args.gerai.isdigit() else None
    gerai_name = f"Gerai {gerai_number}" if gerai_number is not None else args.gerai
    try:
        a = announcement(args.ticket, gerai_number, gerai_name, args.agency, recall=args.recall,
                         gerai=args.gerai, form="short" if args.short else "full")
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    pack_dir = Path(args.pack) if args.pack else voicepack.default_cache()
    pack = voicepack.VoicePack.load(pack_dir)
    print(a.text)
    print("clips: " + " ".join(a.clips))
    missing = pack.missing(a.clips)
    if missing:
        print(f"missing in {pack.source}: {' '.join(missing)}")
        return 1
    print(f"{pack.duration(a):.2f} s")
    if args.play:
        from antre.lobby.announcer import PygamePlayer

        player = PygamePlayer(pack.rate)  # pre_init before the mixer starts; renders in its real format
        pcm = pack.render(a, player.format)
        player.play(pcm)
        seconds = player.format.seconds(pcm)
        import pygame

        pygame.time.wait(int(seconds * 1000) + 100)  # let it finish before the process exits
        print(f"played {seconds:.1f} s ({player.format.rate} Hz, {player.format.channels} channel(s))")
    return 0


def _voicepack_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from antre.lobby import voicepack

    texts: dict[str, str] = {}
    if args.config:
        from antre.central.config import load_site
        from antre.lobby.room import Room, site_clips

        config = load_site(args.config)
        texts = site_clips(config)
        for lid in config.lobbies:
            for name in Room.of(config, lid).unspoken_abbreviations(config):
                print(f"warning: lobby {lid} says {name} as written; give it a spoken form "
                      "(spoken = \"...\" in the site file)", file=sys.stderr)
    out = Path(args.out) if args.out else voicepack.default_cache()
    try:
        paths = voicepack.build(out, texts)
    except FileNotFoundError as exc:
        raise MissingToolError(str(exc)) from None
    print(f"wrote {len(paths)} clips to {out}")
    return 0


def _voicepack_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from antre.central.config import load_site
    from antre.lobby import voicepack
    from antre.lobby.room import Room

    config = load_site(args.config)
    if args.lobby is not None and args.lobby not in config.lobbies:
        raise OptionError(f"--lobby {args.lobby}: no [[lobby]] with that id in {args.config}")
    lobbies: list[str | None] = [args.lobby] if args.lobby else [*config.lobbies] or [None]
    folder = Path(args.pack) if args.pack else voicepack.default_cache()
    if not folder.is_dir():
        print(f"antre: no voice pack at {folder} (build one with `antre lobby voicepack build --config "
              f"{args.config}`)", file=sys.stderr)
        return 1
    pack = voicepack.VoicePack.load(folder)
    failed = False
    for lid in lobbies:
        room = Room.of(config, lid)
        needed = room.clips_needed(config)
        problems = pack.check(needed)
        name = lid or "(the whole site)"
        if problems:
            failed = True
            print(f"lobby {name}: {len(problems)} of {len(needed)} clips missing or unusable:")
            for problem in problems:
                print(f"  {problem}")
        else:
            print(f"lobby {name}: all {len(needed)} clips present and readable")
        for abbreviation in room.unspoken_abbreviations(config):
            print(f"  warning: {abbreviation} has no spoken form")
    print(f"voice pack {folder}: {len(pack.clips)} clips at {pack.rate} Hz, loudness-matched to "
          f"{voicepack.TARGET_LUFS:.0f} LUFS")
    return 1 if failed else 0
