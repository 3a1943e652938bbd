"""``dialer audit``: read the audit log and verify its hash chain (docs/audit.md).

``verify`` walks the whole chain, whose links run across dealers (no ``--dealer``: a dealer's rows
alone prove nothing), and exits 1 when it is broken, so a cron job or a monitoring check can alert on it;
it prints the last row's id and hash to compare with the newest ``audit.appended`` log line.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers, dealer_cell, dealer_codes, dealer_header
from dialer.cli.output import print_json, print_table
from dialer.domain.audit.model import AuditAction, AuditQuery
from dialer.i18n import translate
from dialer.settings import Settings

_MAX_LIMIT = 100_000


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.audit.{key}", lang, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer audit`` and its actions to the CLI."""
    p = sub.add_parser("audit", help="审计日志：查看、校验哈希链 (audit log)")
    cmds = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ls = cmds.add_parser("list", help="audit rows, newest first")
    ls.add_argument("--action", choices=[a.value for a in AuditAction], help="only this action")
    ls.add_argument("--actor", help="only this actor (a login, cli:<os user> or system)")
    ls.add_argument("--since", type=date.fromisoformat, help="first local day, YYYY-MM-DD")
    ls.add_argument("--until", type=date.fromisoformat, help="last local day, YYYY-MM-DD")
    ls.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    ls.add_argument("--json", action="store_true", help="print JSON objects")
    add_dealer_options(ls)
    ls.set_defaults(handler=run_list)
    v = cmds.add_parser(
        "verify",
        help="walk the whole hash chain (every dealer's rows); exit 1 and name the first bad row when it is broken",
        description="Walk the audit log's whole hash chain. Its links run across dealers (each row is chained to"
        " the row before it, whoever's it is), so it cannot be narrowed to one dealer: no --dealer or --group,"
        " the answer is always the group's (docs/audit.md).",
    )
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(handler=run_verify)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    try:
        # In UTC, as the store compares: 0001-01-01 in a zone east of UTC is before the first instant.
        return datetime.combine(day, time(), tz).astimezone(UTC)
    except OverflowError:
        raise CliError(f"{day.isoformat()} is outside the dates this search can reach") from None


async def run_list(cfg: Settings, args: argparse.Namespace) -> int:
    """Print the matching rows in dealer time."""
    if not 1 <= args.limit <= _MAX_LIMIT:
        raise CliError(f"--limit {args.limit}: must be between 1 and {_MAX_LIMIT}")
    tz = ZoneInfo(cfg.dealer.timezone)
    since = None if args.since is None else _midnight(args.since, tz)
    try:
        until = None if args.until is None else _midnight(args.until + timedelta(days=1), tz)
    except OverflowError:  # 9999-12-31: there is no next day
        raise CliError(f"--until {args.until.isoformat()} is outside the dates this search can reach") from None
    async with open_store(cfg, args.clock) as app:
        dealers = await chosen_dealers(app, args)
        query = AuditQuery(
            None if args.action is None else AuditAction(args.action), args.actor, since, until, args.limit, 0, dealers
        )
        entries, _total = await app.audit.entries(query)
        codes = await dealer_codes(app)
        if args.json:
            print_json([{**e.to_json_dict(), "dealer": codes.get(e.dealer_id or 0)} for e in entries])
            return 0
        dealer = [dealer_header(app)] if dealers.mixed else []
        cells = [[dealer_cell(app, codes, e.dealer_id)] if dealers.mixed else [] for e in entries]
    lang = cfg.ui.language
    keys = ("web.audit.col.id", "web.audit.col.at", "web.audit.col.actor", "web.audit.col.action",
            "web.audit.col.target", "web.audit.col.detail")  # fmt: skip
    print_table(
        [*(translate(k, lang) for k in keys), *dealer],
        [(e.id, e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, e.detail, *cell)
         for e, cell in zip(entries, cells, strict=True)],
    )  # fmt: skip
    return 0


async def run_verify(cfg: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the chain holds, 1 when a row was deleted or edited."""
    async with open_store(cfg, args.clock) as app:
        report = await app.audit.verify()
    broken = report.broken
    if args.json:
        print_json({"holds": broken is None, "rows": report.rows, "last_id": report.last_id,
                    "last_hash": report.last_hash, "broken_at": None if broken is None else broken.id,
                    "break": None if broken is None else broken.kind.value})  # fmt: skip
    else:
        lang = cfg.ui.language
        if broken is None:
            print(_t(lang, "holds", rows=report.rows, id=report.last_id, hash=report.last_hash))
        else:
            print(_t(lang, "broken", id=broken.id, why=translate("web.audit.break." + broken.kind.value, lang)))
    return 0 if broken is None else 1
