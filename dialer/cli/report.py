"""``dialer report daily|weekly|funnel``: the morning meeting's daily sheet, the weekly review and the campaigns'
funnels of a month (docs/kpi.md).

The same tables as the console's /reports/daily, /reports/weekly and /reports (dialer.domain.reports.tables).
"""

from __future__ import annotations

import argparse
from datetime import date

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers
from dialer.cli.output import print_json, print_table
from dialer.domain.kpi.metrics import Month
from dialer.domain.reports.sheets import Week
from dialer.domain.reports.tables import Sheet, daily_tables, funnel_table, weekly_tables
from dialer.i18n import translate
from dialer.kpi.service import daily, funnels, weekly
from dialer.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="晨会日报与周报 (the daily sheet for the morning meeting, the weekly review)")
    cmds = p.add_subparsers(dest="report_command", metavar="SHEET", required=True)
    d = cmds.add_parser("daily", help="yesterday per agent, and what is due today")
    d.add_argument("--date", help="the meeting's day, YYYY-MM-DD in dealer local time (default: today)")
    d.add_argument("--json", action="store_true", help="print every count as JSON")
    add_dealer_options(d)
    d.set_defaults(handler=run_daily)
    w = cmds.add_parser("weekly", help="the week per agent and its defeats by reason")
    w.add_argument("--week", help="ISO week, YYYY-Www, e.g. 2026-W48 (default: last week)")
    w.add_argument("--json", action="store_true", help="print every count as JSON")
    add_dealer_options(w)
    w.set_defaults(handler=run_weekly)
    f = cmds.add_parser("funnel", help="each campaign's funnel for a month: dialled to deal")
    f.add_argument("--month", required=True, help="YYYY-MM, dealer local time")
    f.add_argument("--json", action="store_true", help="print every count as JSON")
    add_dealer_options(f)
    f.set_defaults(handler=run_funnel)


def _print(tables: list[Sheet], lang: str) -> None:
    for table in tables:
        print()
        print(table.title)
        if table.rows:
            print_table(table.headers, table.rows)
        else:
            print(translate("report.empty", lang))


async def run_daily(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        day = None if args.date is None else date.fromisoformat(args.date)
    except ValueError:
        raise CliError(f"--date {args.date!r}: expected YYYY-MM-DD, e.g. 2026-11-30") from None
    async with open_store(cfg, args.clock) as app:
        sheet = await daily(app.db, cfg, app.clock, day, await chosen_dealers(app, args))
    lang = cfg.ui.language
    if args.json:
        print_json(sheet.to_json())
        return 0
    print(translate("report.daily.title", lang, day=sheet.day.isoformat()))
    _print(daily_tables(sheet, lang), lang)
    if sheet.today is None:
        print()
        print(translate("report.daily.no_agenda", lang, day=sheet.day.isoformat()))
    return 0


async def run_weekly(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        week = None if args.week is None else Week.parse(args.week)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with open_store(cfg, args.clock) as app:
        sheet = await weekly(app.db, cfg, app.clock, week, await chosen_dealers(app, args))
    lang = cfg.ui.language
    if args.json:
        print_json(sheet.to_json())
        return 0
    print(translate("report.weekly.title", lang, week=str(sheet.week)))
    _print(weekly_tables(sheet, lang), lang)
    return 0


async def run_funnel(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with open_store(cfg, args.clock) as app:
        found = await funnels(app.db, cfg, month, await chosen_dealers(app, args))
    if args.json:
        print_json({"month": str(month), "campaigns": [f.to_json() for f in found]})
        return 0
    lang = cfg.ui.language
    print(str(month))
    _print([funnel_table(found, lang)], lang)
    return 0
