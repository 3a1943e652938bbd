"""``dialer users``: add console logins and list them, their mobiles, the names lead files use for them (docs/web.md)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import dealer_named
from dialer.cli.output import print_json, print_table
from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import cli_actor
from dialer.domain.auth.errors import AuthError
from dialer.domain.leads.errors import LeadError
from dialer.i18n import translate
from dialer.settings import Settings

# A login at a node is its dealer's user (else the group's); another dealer's is written code/login.
_WHO = "the login: this node's dealer's user (else a group-wide one), another dealer's as CODE/LOGIN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer users`` and its actions to the CLI."""
    p = sub.add_parser("users", help="控制台用户：添加、列表、改密码、停用 (console users)")
    cmds = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    a = cmds.add_parser("add", help="add a login; the password is read from stdin or --password-env")
    a.add_argument("name", metavar="NAME", help="the login, unique in its dealer (or among group users)")
    a.add_argument("--role", required=True, choices=[r.value for r in Role])
    a.add_argument(
        "--agent", help="agents: the identity their calls, recordings and leads are filed under (default: NAME)"
    )
    a.add_argument("--mobile", help="their own mobile: where the visit notices for their customers go")
    a.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    whose = a.add_mutually_exclusive_group()
    whose.add_argument("--dealer", metavar="CODE", help="the dealer whose data they see (default: this node's dealer)")
    whose.add_argument("--group", action="store_true", help="a group-wide user: sees every dealer (not for agents)")
    a.set_defaults(handler=run_add)

    mob = cmds.add_parser(
        "mobile", help="set (or --clear) a user's own mobile, where their customers' visit notices go"
    )
    mob.add_argument("name", metavar="NAME", help=_WHO)
    number = mob.add_mutually_exclusive_group(required=True)
    number.add_argument("number", metavar="NUMBER", nargs="?")
    number.add_argument("--clear", action="store_true")
    mob.set_defaults(handler=run_mobile)

    al = cmds.add_parser("alias", help="names lead files use for an agent (负责人): add, remove, list")
    al_cmds = al.add_subparsers(dest="alias_command", metavar="ACTION", required=True)
    al_add = al_cmds.add_parser("add", help="map NAME to the agent USER; leads already filed under NAME become theirs")
    al_add.add_argument("alias", metavar="NAME")
    al_add.add_argument("user", metavar="USER", help="the agent's login or identity")
    al_add.add_argument("--actor", help="who decided (default: your system login)")
    al_add.add_argument("--dealer", metavar="CODE", help="the dealer whose names these are (default: this node's)")
    al_add.set_defaults(handler=run_alias, alias_change="add")
    al_rm = al_cmds.add_parser("remove", help="forget NAME (leads already filed under the agent stay theirs)")
    al_rm.add_argument("alias", metavar="NAME")
    al_rm.add_argument("--actor", help="who decided (default: your system login)")
    al_rm.add_argument("--dealer", metavar="CODE", help="the dealer whose names these are (default: this node's)")
    al_rm.set_defaults(handler=run_alias, alias_change="remove")
    al_ls = al_cmds.add_parser("list", help="the aliases, and owner names on leads that nobody goes by")
    al_ls.add_argument("--json", action="store_true")
    al_ls.add_argument("--dealer", metavar="CODE", help="the dealer whose names these are (default: this node's)")
    al_ls.set_defaults(handler=run_aliases)

    ls = cmds.add_parser("list", help="every login with role and agent identity")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)

    pw = cmds.add_parser("passwd", help="set a new password (read like add's); every session of the user ends")
    pw.add_argument("name", metavar="NAME", help=_WHO)
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    pw.set_defaults(handler=run_change, change="passwd")

    off = cmds.add_parser("disable", help="the user can no longer log in, and is logged out everywhere at once")
    off.add_argument("name", metavar="NAME", help=_WHO)
    off.set_defaults(handler=run_change, change="disable")

    on = cmds.add_parser("enable", help="a disabled user may log in again")
    on.add_argument("name", metavar="NAME", help=_WHO)
    on.set_defaults(handler=run_change, change="enable")

    out = cmds.add_parser("logout", help="end every session of the user (they may log in again)")
    out.add_argument("name", metavar="NAME", help=_WHO)
    out.set_defaults(handler=run_logout)

    otp = cmds.add_parser(
        "totp", help="supervisors and admins: enrol an authenticator app (its secret is shown once), or --remove it"
    )
    otp.add_argument("name", metavar="NAME", help=_WHO)
    otp.add_argument("--remove", action="store_true", help="the user logs in with the password alone again")
    otp.set_defaults(handler=run_totp)


def _password(args: argparse.Namespace) -> str:
    """From the named variable, a terminal prompt, or the first line of piped stdin; never an argument."""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise CliError(f"--password-env {args.password_env}: the variable is not set")
        return value
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


async def run_add(cfg: Settings, args: argparse.Namespace) -> int:
    """Hash and store the new login."""
    password = _password(args)
    async with open_store(cfg, args.clock) as app:
        auth = app.auth
        dealer_id = None if args.dealer is None else (await dealer_named(app, args.dealer)).id
        try:
            user = await auth.add_user(
                args.name,
                args.role,
                password,
                agent=args.agent,
                mobile=args.mobile,
                actor=cli_actor(getpass.getuser()),
                dealer_id=dealer_id,
                group=args.group,
            )
        except AuthError as exc:
            raise CliError(str(exc)) from None
    print(
        translate(
            "web.users.added",
            cfg.ui.language,
            name=user.name,
            role=translate("web.role." + user.role.value, cfg.ui.language),
        )
    )
    return 0


async def run_change(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer users passwd|disable|enable NAME``."""
    password = _password(args) if args.change == "passwd" else ""
    actor = cli_actor(getpass.getuser())
    async with open_store(cfg, args.clock) as app:
        try:
            match args.change:
                case "passwd":
                    await app.auth.set_password(args.name, password, actor=actor)
                case "disable":
                    await app.auth.disable(args.name, actor=actor)
                case _:
                    await app.auth.enable(args.name, actor=actor)
        except AuthError as exc:
            raise CliError(str(exc)) from None
    print(translate(f"cli.users.{args.change}", cfg.ui.language, name=args.name))
    return 0


async def run_logout(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer users logout NAME``: every session of theirs ends."""
    async with open_store(cfg, args.clock) as app:
        try:
            ended = await app.auth.end_sessions(args.name, actor=cli_actor(getpass.getuser()))
        except AuthError as exc:
            raise CliError(str(exc)) from None
    print(translate("cli.users.logout", cfg.ui.language, name=args.name, sessions=ended))
    return 0


async def run_totp(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer users totp NAME [--remove]``: the secret and the otpauth URI go to this terminal only."""
    actor, lang = cli_actor(getpass.getuser()), cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        try:
            if args.remove:
                await app.auth.remove_totp(args.name, actor=actor)
            else:
                secret, uri = await app.auth.enrol_totp(args.name, actor=actor)
        except AuthError as exc:
            raise CliError(str(exc)) from None
    if args.remove:
        print(translate("cli.users.totp_removed", lang, name=args.name))
    else:
        print(translate("cli.users.totp_enrolled", lang, name=args.name, secret=secret, uri=uri))
    return 0


async def run_mobile(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer users mobile NAME NUMBER|--clear``."""
    async with open_store(cfg, args.clock) as app:
        try:
            user = await app.auth.set_mobile(args.name, None if args.clear else args.number)
        except AuthError as exc:
            raise CliError(str(exc)) from None
    print(translate("cli.users.mobile", cfg.ui.language, name=user.name, mobile=user.mobile or "—"))
    return 0


async def run_alias(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer users alias add NAME USER`` and ``alias remove NAME``."""
    actor = args.actor or getpass.getuser()
    async with open_store(cfg, args.clock) as app:
        dealers = DealerScope.of((await dealer_named(app, args.dealer)).id)
        try:
            if args.alias_change == "add":
                moved = await app.manager.add_alias(args.alias, args.user, actor, dealers)
            else:
                await app.manager.remove_alias(args.alias, actor, dealers)
        except LeadError as exc:
            raise CliError(str(exc)) from None
    lang = cfg.ui.language
    if args.alias_change == "add":
        print(translate("cli.users.alias_added", lang, alias=args.alias.strip(), user=args.user, leads=moved))
    else:
        print(translate("cli.users.alias_removed", lang, alias=args.alias.strip()))
    return 0


async def run_aliases(cfg: Settings, args: argparse.Namespace) -> int:
    """The aliases, then the owner names on leads that nobody goes by."""
    async with open_store(cfg, args.clock) as app:
        names = await app.manager.owner_names(DealerScope.of((await dealer_named(app, args.dealer)).id))
    if args.json:
        print_json(
            {
                "aliases": [{"alias": a.alias, "user": a.user, "agent": a.agent} for a in names.aliases],
                "unknown": [{"owner": name, "leads": n} for name, n in names.unknown],
            }
        )
        return 0
    lang = cfg.ui.language
    print_table(
        [translate(k, lang) for k in ("web.owners.alias", "web.col.name", "web.col.agent")],
        [(a.alias, a.user, a.agent) for a in names.aliases],
    )
    if names.unknown:
        print()
        print(translate("web.owners.unknown", lang))
        print_table([translate(k, lang) for k in ("web.col.owner", "web.owners.leads")], list(names.unknown))
    return 0


async def run_list(cfg: Settings, args: argparse.Namespace) -> int:
    """Print the logins."""
    async with open_store(cfg, args.clock) as app:
        users = await app.auth.users()
        codes = {d.id: d.code for d in await app.dealers.all()}
    lang = cfg.ui.language

    def dealer(dealer_id: int | None) -> str:
        return translate("web.dealer.group", lang) if dealer_id is None else codes[dealer_id]

    if args.json:
        print_json(
            [
                {
                    "name": u.name,
                    "role": u.role.value,
                    "agent": u.agent,
                    "mobile": u.mobile,
                    "disabled": u.disabled_at is not None,
                    "dealer": None if u.dealer_id is None else codes[u.dealer_id],
                }
                for u in users
            ]
        )
        return 0
    print_table(
        [
            translate(k, lang)
            for k in (
                "web.col.name",
                "web.col.role",
                "web.col.agent",
                "web.col.mobile",
                "web.col.disabled",
                "web.col.dealer",
            )
        ],
        [
            (
                u.name,
                translate("web.role." + u.role.value, lang),
                u.agent or "",
                u.mobile or "",
                "" if u.disabled_at is None else "✗",
                dealer(u.dealer_id),
            )
            for u in users
        ],
    )
    return 0
