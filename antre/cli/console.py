"""``antre console run | user add | user passwd | user remove | user list``: the operations console."""

from __future__ import annotations

import argparse
import sys

from antre.cli.central import BROKER_HOST, BROKER_PORT, CREDENTIALS
from antre.cli.tree import SITE_FILE, CommandTree, OptionError, Use
from antre.cli.values import port

DATABASE_HELP = "the console's database of accounts (default: console.database of the site file)"


def register(tree: CommandTree) -> None:
    tree.group("console", help="the operations console: a web application for supervisors, staff and technicians",
               default="run")
    p = tree.command(
        "console run", _run, help="serve the operations console of a site (until SIGTERM)",
        description="Serve the web console: it reads the site from MQTT as console.<id> and the day's figures "
        "from the event log (read-only), and sends every action as a command to the central naming the user. "
        "Logs 'antre console ready' with its address once it serves. HTTPS and the other web settings live in "
        "the site file's [console] section (bind, port, certfile, keyfile, session_hours, login_attempts, "
        "login_window_s), not on this command line. It refuses to start (exit 4) while another console serves "
        "with the same [console] id.",
        uses={"config": SITE_FILE.required(), "broker_host": BROKER_HOST, "broker_port": BROKER_PORT,
              "credentials": CREDENTIALS,
              "bind": Use(help="the address the console listens on", shown_default="console.bind of the site file")},
        quiet=False,
    )
    p.add_argument("--http-port", type=port, metavar="PORT", help="the console's HTTP(S) port "
                   "(default: console.port of the site file)")
    p.add_argument("--database", metavar="FILE", help=DATABASE_HELP)
    p.add_argument("--db", metavar="FILE", help="the event log to read (default: store.path of the site file)")

    tree.group("console user", help="the console's accounts")
    user = {"config": SITE_FILE.required()}
    p = tree.command("console user add", _add, help="add an account (asks for its password)", uses=user)
    p.add_argument("name", metavar="NAME", help="the account name, e.g. rina")
    p.add_argument("--role", required=True, choices=["admin", "supervisor", "technician", "staff"],
                   help="what the account may do")
    p.add_argument("--gerai", metavar="GERAI", default="",
                   help="staff: the gerai the account serves at, comma-separated (g01,g02)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--database", metavar="FILE", help=DATABASE_HELP)
    p = tree.command("console user passwd", _passwd, help="set an account's password (ends its sessions)",
                     uses=user)
    p.add_argument("name", metavar="NAME", help="the account")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--database", metavar="FILE", help=DATABASE_HELP)
    p = tree.command("console user remove", _remove, help="remove an account (ends its sessions)", uses=user)
    p.add_argument("name", metavar="NAME", help="the account")
    p.add_argument("--database", metavar="FILE", help=DATABASE_HELP)
    p = tree.command("console user list", _list, help="list the accounts", uses=user)
    p.add_argument("--database", metavar="FILE", help=DATABASE_HELP)


def _run(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.console.main import run_console

    config = load_site(args.config)
    return run_console(config, host=args.broker_host, port=args.broker_port, credentials_path=args.credentials,
                       bind=args.bind, http_port=args.http_port, database=args.database, db=args.db)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise OptionError("no terminal to ask for the password: give it on standard input with --password-stdin")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise OptionError("the two passwords differ")
    return first


def _accounts(args: argparse.Namespace) -> tuple[object, object]:
    from antre.central.config import load_site
    from antre.console.accounts import Accounts

    config = load_site(args.config)
    return config, Accounts(args.database or config.console.database)


def _add(args: argparse.Namespace) -> int:
    from antre.central.config import SiteConfig
    from antre.console.accounts import Accounts, check_name

    config, accounts = _accounts(args)
    assert isinstance(config, SiteConfig) and isinstance(accounts, Accounts)
    check_name(args.name)
    gerai = [g for g in args.gerai.split(",") if g.strip()]
    user = accounts.add(args.name, args.role, _password(args), gerai, known_gerai=config.gerai)
    bound = f", gerai {', '.join(user.gerai)}" if user.gerai else ""
    print(f"added {user.role.value} {user.name}{bound} to {accounts.path}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from antre.console.accounts import Accounts, AccountError

    _, accounts = _accounts(args)
    assert isinstance(accounts, Accounts)
    if accounts.get(args.name) is None:
        raise AccountError(f"no account {args.name!r}")
    accounts.passwd(args.name, _password(args))
    print(f"password of {args.name} changed; its sessions are over")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from antre.console.accounts import Accounts

    _, accounts = _accounts(args)
    assert isinstance(accounts, Accounts)
    accounts.remove(args.name)
    print(f"removed {args.name}; its sessions are over")
    return 0


def _list(args: argparse.Namespace) -> int:
    from antre.console.accounts import Accounts

    _, accounts = _accounts(args)
    assert isinstance(accounts, Accounts)
    for user in accounts.users():
        print(f"{user.name:<20} {user.role.value:<11} {','.join(user.gerai) or '-'}")
    return 0
