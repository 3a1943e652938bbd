"""``dialer phones``: the phones' SIP accounts (agents' and supervisors' desk phones or softphones).

A password is generated and printed once (``add``, ``reset``); ``list`` never shows one. The PBX
takes a change when its configuration is rendered again (``dialer pbx render``) and reloaded.
"""

from __future__ import annotations

import argparse

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.access.dealers import DealerScope
from dialer.domain.pbx.phones import NewPassword, PhoneError
from dialer.i18n import translate
from dialer.settings import Settings
from dialer.timestamps import to_db_or_none


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer phones`` and its actions to the CLI."""
    p = sub.add_parser("phones", help="话机 SIP 账号：添加、列表、重置密码、删除 (the phones' SIP accounts)")
    cmds = p.add_subparsers(dest="phones_command", metavar="ACTION", required=True)
    ls = cmds.add_parser("list", help="every account (never a password)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    for action, text in (
        ("add", "a new account with a generated password, printed once"),
        ("reset", "a new generated password, printed once; the old one stops working after the next pbx render"),
        ("remove", "delete the account (a phone taken out of service)"),
    ):
        cmd = cmds.add_parser(action, help=text)
        cmd.add_argument("endpoint", metavar="ENDPOINT", help="e.g. agent1, supervisor")
        cmd.set_defaults(handler=run_change, change=action)


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(f"cli.phones.{key}", cfg.ui.language, **params)


async def run_change(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer phones add|reset|remove ENDPOINT``."""
    async with open_store(cfg, args.clock) as app:
        try:
            match args.change:
                case "add":
                    created: NewPassword | None = await app.phones.add(args.endpoint)
                case "reset":
                    created = await app.phones.reset(args.endpoint)
                case _:
                    await app.phones.remove(args.endpoint)
                    created = None
        except PhoneError as exc:
            raise CliError(str(exc)) from None
    print(_t(cfg, args.change, endpoint=args.endpoint))
    if created is not None:
        print(f"  {_t(cfg, 'username')}: {created.account.username}")
        print(f"  {_t(cfg, 'password')}: {created.password}")
        print(_t(cfg, "once"))
    print(_t(cfg, "render"))
    return 0


async def run_list(cfg: Settings, args: argparse.Namespace) -> int:
    """Print the accounts."""
    async with open_store(cfg, args.clock) as app:
        accounts = await app.phones.accounts(DealerScope.of(app.dealer.id))
    if args.json:
        print_json(
            [
                {
                    "endpoint": a.endpoint,
                    "username": a.username,
                    "created_at": to_db_or_none(a.created_at),
                    "changed_at": to_db_or_none(a.changed_at),
                }
                for a in accounts
            ]
        )
        return 0
    print_table(
        [_t(cfg, k) for k in ("col.endpoint", "username", "col.changed")],
        [(a.endpoint, a.username, to_db_or_none(a.changed_at or a.created_at)) for a in accounts],
    )
    return 0
