"""``antre broker run`` (the embedded broker) and ``antre broker mosquitto-config`` (production)."""

from __future__ import annotations

import argparse

from antre.cli.central import CREDENTIALS
from antre.cli.tree import SITE_FILE, CommandTree, Use

LISTEN_PORT = Use(help="the TCP port the broker listens on", shown_default="broker.port of the site file",
                  aliases=("--port",))
BIND = Use(help="the address the broker listens on", shown_default="broker.bind of the site file")


def register(tree: CommandTree) -> None:
    tree.group("broker", help="the site's MQTT broker: run the embedded one, or configure Mosquitto",
               default="run")
    uses = {"config": SITE_FILE.required(), "bind": BIND, "broker_port": LISTEN_PORT, "credentials": CREDENTIALS}
    tree.command(
        "broker run", _run, help="run the embedded MQTT broker for a site (until SIGTERM)",
        description="Run the embedded broker (amqtt, MQTT 3.1.1) for a site until SIGTERM, with per-device "
        "credentials and ACLs, bound to loopback unless told otherwise. Writes the site's credentials file "
        "when it is missing. For a laptop and tests; production uses Mosquitto (mosquitto-config).",
        uses=uses, quiet=False,
    )
    p = tree.command(
        "broker mosquitto-config", _mosquitto_config, help="write mosquitto.conf, passwd and acl for the site",
        description="Write a Mosquitto configuration directory for the site and, when run as root, give its "
        "files to the 'mosquitto' account (otherwise print the commands to do so); then print the install "
        "steps.",
        uses=uses,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the directory to write, e.g. /etc/mosquitto/antre")
    p.add_argument("--run-as", metavar="USER", help="Mosquitto's 'user' option (default: Mosquitto's own, "
                   "'mosquitto')")
    p.add_argument("--persistence", default="/var/lib/mosquitto/", metavar="DIR",
                   help="persistence_location, created and given to Mosquitto's account (Debian's)")


def _run(args: argparse.Namespace) -> int:
    from antre.broker.admin.main import run_embedded
    from antre.central.config import load_site

    config = load_site(args.config)
    b = config.broker
    return run_embedded(config.site_id, config.identities(), args.credentials or b.credentials,
                        args.bind or b.bind, args.broker_port or b.port)


def _mosquitto_config(args: argparse.Namespace) -> int:
    from antre.broker.admin.main import install_notes, mosquitto_config
    from antre.broker.admin.mosquitto import ListenerSettings
    from antre.central.config import load_site

    config = load_site(args.config)
    b = config.broker
    credentials = args.credentials or b.credentials
    bind, port = args.bind or b.bind, args.broker_port or b.port
    listener = ListenerSettings(bind, port, b.cafile, b.certfile, b.keyfile)
    setup = mosquitto_config(config.site_id, config.identities(), credentials, args.out, listener,
                             args.run_as, args.persistence)
    print("wrote " + ", ".join(str(p) for p in setup.paths) + f" (listener {bind}:{port})")
    account = args.run_as or "mosquitto"
    if setup.pending:
        print(f"\nNot done here (needs root and the '{account}' account): run these as root so the packaged "
              f"Mosquitto, which reads passwd and acl as the '{account}' user, can start:")
        print("".join(f"  {cmd}\n" for cmd in setup.pending))
    else:
        print(f"ownership set for Mosquitto's '{account}' account, as if by:")
        print("".join(f"  {cmd}\n" for cmd in setup.done))
    print(install_notes(args.out, credentials, setup.persistence))
    return 0
