"""``dialer dnc`` (the one suppression list) and ``dialer privacy`` (a person's export and erasure,
retention) — docs/privacy.md.

``dnc`` keeps its name (dealers know it as the do-not-call list); it edits the same list SMS
replies, the agents' 勿扰 and imports feed, and that calls and SMS obey.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers, dealer_cell, dealer_codes, dealer_header
from dialer.cli.output import print_json, print_table
from dialer.clock import Clock
from dialer.domain.privacy.suppression import SuppressionError, SuppressionSource
from dialer.i18n import translate
from dialer.privacy.service import PrivacyService
from dialer.settings import Settings


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(f"cli.privacy.{key}", cfg.ui.language, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer dnc`` and ``dialer privacy`` to the command line."""
    dnc = sub.add_parser("dnc", help="勿扰名单 (the suppression list: no calls, no SMS)")
    actions = dnc.add_subparsers(dest="dnc_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="never call or message this number")
    add.add_argument("number")
    add.add_argument("--reason", required=True, help="why (kept with the entry)")
    add.add_argument("--actor", help="who adds it (default: the login name)")
    add.set_defaults(handler=run_dnc_add)
    remove = actions.add_parser("remove", help="allow calls and SMS to this number again (the entry is kept)")
    remove.add_argument("number")
    remove.add_argument("--reason", required=True, help="why (kept with the entry)")
    remove.add_argument("--actor", help="who removes it (default: the login name)")
    remove.set_defaults(handler=run_dnc_remove)
    listing = actions.add_parser(
        "list", help="the numbers the dealer's people put on the list, newest first (--group: every dealer's)"
    )
    listing.add_argument("search", nargs="?", default="", help="part of a number or of a reason")
    listing.add_argument("--all", action="store_true", help="also entries taken off the list")
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true")
    add_dealer_options(listing)
    listing.set_defaults(handler=run_dnc_list)

    p = sub.add_parser("privacy", help="个人信息 (a person's data: export, erase; retention)")
    cmds = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    export = cmds.add_parser("export", help="every row about the person with this number, in one JSON file")
    export.add_argument("number")
    export.add_argument("--out", help="the file to write (default: privacy-export-<number>.json)")
    export.set_defaults(handler=run_export)
    erase = cmds.add_parser("erase", help="anonymize everything about the person with this number")
    erase.add_argument("number")
    erase.add_argument("--yes", action="store_true", help="do it (without it, nothing is changed)")
    erase.add_argument("--actor", help="who asks (default: the login name)")
    erase.set_defaults(handler=run_erase)
    erased = cmds.add_parser("erased", help="was this number's data erased? (matched against the erasure records)")
    erased.add_argument("number")
    erased.set_defaults(handler=run_erased)
    retention = cmds.add_parser("retention", help="apply [privacy] retention now (dialer web does it daily)")
    retention.set_defaults(handler=run_retention)


@asynccontextmanager
async def _privacy(cfg: Settings, clock: Clock) -> AsyncIterator[PrivacyService]:
    """The store and the privacy service; a refused entry becomes one clear line."""
    async with open_store(cfg, clock) as app:
        try:
            yield app.privacy
        except SuppressionError as exc:
            raise CliError(str(exc)) from None


async def run_dnc_add(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer dnc add NUMBER --reason ...``."""
    async with _privacy(cfg, args.clock) as privacy:
        e164, added = await privacy.suppress(
            args.number, args.reason, SuppressionSource.CLI, args.actor or getpass.getuser()
        )
    print(_t(cfg, "added" if added else "already", number=e164))
    return 0


async def run_dnc_remove(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer dnc remove NUMBER --reason ...``: exit code 1 when the number was not on the list."""
    async with _privacy(cfg, args.clock) as privacy:
        e164, lifted = await privacy.lift(args.number, args.reason, args.actor or getpass.getuser())
    print(_t(cfg, "removed" if lifted else "absent", number=e164))
    return 0 if lifted else 1


async def run_dnc_list(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer dnc list [SEARCH]``."""
    if args.limit < 1:
        raise CliError(_t(cfg, "bad_limit", limit=args.limit))
    # The list narrows to a dealer's entries; every entry keeps its number undialled across the group.
    async with open_store(cfg, args.clock) as app:
        dealers = await chosen_dealers(app, args)
        try:
            entries = await app.privacy.search(args.search, include_lifted=args.all, limit=args.limit, dealers=dealers)
        except SuppressionError as exc:
            raise CliError(str(exc)) from None
        codes = await dealer_codes(app)
        dealer = [dealer_header(app)] if dealers.mixed else []
        cells = [[dealer_cell(app, codes, e.dealer_id)] if dealers.mixed else [] for e in entries]
    if args.json:
        print_json([{**e.to_json_dict(), "dealer": codes.get(e.dealer_id)} for e in entries])
        return 0
    if not entries:
        print(_t(cfg, "empty"))
        return 0
    tz = ZoneInfo(cfg.dealer.timezone)

    def local(at: object) -> str:
        return "" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")  # type: ignore[attr-defined]

    headers = [*(_t(cfg, f"col.{c}") for c in ("number", "reason", "source", "at", "by", "lifted")), *dealer]
    rows = [
        (e.e164, e.reason, translate(f"privacy.source.{e.source.value}", cfg.ui.language), local(e.at), e.actor,
         "" if e.active else f"{local(e.lifted_at)} {e.lifted_by}: {e.lift_reason}", *cell)
        for e, cell in zip(entries, cells, strict=True)
    ]  # fmt: skip
    print_table(headers, rows)
    return 0


async def run_export(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer privacy export NUMBER``: one JSON file, written only by its owner (0600)."""
    async with _privacy(cfg, args.clock) as privacy:
        e164 = privacy.number(args.number)
        data = await privacy.export(e164)
    out = Path(args.out or f"privacy-export-{e164.lstrip('+')}.json")
    _write_export(cfg, out, data)
    rows = sum(len(t) for t in data["tables"].values())
    print(_t(cfg, "exported", number=e164, rows=rows, path=out))
    return 0


def _write_export(cfg: Settings, out: Path, data: dict[str, Any]) -> None:
    """Write a new file readable by its owner only; an existing file is never overwritten."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(_t(cfg, "exists", path=out)) from None
    except OSError as exc:
        raise CliError(_t(cfg, "write_failed", path=out, error=exc.strerror)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2, default=str)


async def run_erase(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer privacy erase NUMBER --yes``."""
    async with _privacy(cfg, args.clock) as privacy:
        e164 = privacy.number(args.number)
        if not args.yes:
            print(_t(cfg, "erase_confirm", number=e164))
            return 1
        erased = await privacy.erase(e164, args.actor or getpass.getuser())
    c = erased.counts
    print(_t(cfg, "erased", id=erased.erasure_id, leads=c.leads, attempts=c.attempts,
             sms=c.sms_messages + c.sms_inbound, deleted=c.recordings_deleted, scheduled=c.recordings_scheduled))  # fmt: skip
    return 0


async def run_erased(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer privacy erased NUMBER``: exit code 1 when no erasure matches."""
    async with _privacy(cfg, args.clock) as privacy:
        e164 = privacy.number(args.number)
        ids = await privacy.erased_before(e164)
    print(
        _t(cfg, "was_erased", number=e164, ids=", ".join(map(str, ids))) if ids else _t(cfg, "not_erased", number=e164)
    )
    return 0 if ids else 1


async def run_retention(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer privacy retention``."""
    async with _privacy(cfg, args.clock) as privacy:
        report = await privacy.apply_retention()
    print(_t(cfg, "retention", leads=report.leads, sms=report.sms, attempts=report.attempts,
             recordings=report.recordings))  # fmt: skip
    return 0
