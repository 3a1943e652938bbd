"""``dialer doss``: the DOSS import spreadsheet, pushing the outbox, dead letters, the outcome mapping.

Every action loads and checks ``doss.mapping_file`` first, so a broken mapping is
reported (file and pair) before anything else happens.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers
from dialer.cli.output import print_json, print_table
from dialer.domain.audit.model import AuditAction, cli_actor
from dialer.domain.doss.errors import DossError
from dialer.domain.doss.mapping import DossMapping, load_mapping
from dialer.domain.doss.outbox import OutboxEntry
from dialer.domain.leads.errors import LeadError
from dialer.doss.export import period_bounds, write_xlsx
from dialer.doss.push import PushWorker, RoundReport
from dialer.i18n import translate
from dialer.settings import ConfigError, Settings
from dialer.store.errors import StoreError

_TIME = "%Y-%m-%d %H:%M"


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.doss.{key}", lang, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doss", help="DOSS sync: import spreadsheet, push, dead letters, outcome mapping")
    doss = p.add_subparsers(dest="doss_command", metavar="ACTION", required=True)

    exp = doss.add_parser("export", help="write the DOSS import spreadsheet of a day or a range of days")
    exp.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD, dealer local day")
    exp.add_argument("--to", type=date.fromisoformat, help="last day of a range (inclusive)")
    exp.add_argument("--out", type=Path, help="the .xlsx to write (default: doss.export_dir/doss-DATE.xlsx)")
    add_dealer_options(exp)
    exp.set_defaults(handler=run_export)

    push = doss.add_parser("push", help="send the outbox to doss.endpoint (until Ctrl-C)")
    push.add_argument("--once", action="store_true", help="send what is due now, then exit")
    push.set_defaults(handler=run_push)

    dead = doss.add_parser("dead-letters", help="changes the push gave up on")
    dead.add_argument("--retry", type=int, metavar="ID", help="queue this dead letter again")
    dead.add_argument("--json", action="store_true")
    dead.set_defaults(handler=run_dead_letters)

    states = doss.add_parser(
        "import-states", help="take the visits and deals of a DOSS export (.csv/.xlsx) into the leads"
    )
    states.add_argument("file", type=Path, metavar="FILE", help="DOSS's lead list: 手机 and 线索状态 columns at least")
    states.add_argument("--actor", default=None, help="who imports it (default: the login name)")
    states.add_argument("--json", action="store_true")
    states.set_defaults(handler=run_import_states)

    mapping = doss.add_parser("mapping", help="check the outcome -> DOSS mapping and show it")
    mapping.add_argument("--json", action="store_true")
    mapping.set_defaults(handler=run_mapping)


def _mapping(cfg: Settings) -> DossMapping:
    try:
        return load_mapping(cfg.path(cfg.doss.mapping_file))
    except ConfigError as exc:
        raise CliError(f"config error: {exc}") from None


async def run_export(cfg: Settings, args: argparse.Namespace) -> int:
    _mapping(cfg)
    tz = ZoneInfo(cfg.dealer.timezone)
    last = args.to or args.date
    try:
        start, end = period_bounds(args.date, last, tz)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    name = f"doss-{args.date.isoformat()}" + ("" if last == args.date else f"_{last.isoformat()}") + ".xlsx"
    path = args.out or cfg.path(cfg.doss.export_dir) / name
    async with open_store(cfg, args.clock) as app:
        dealers = await chosen_dealers(app, args)
        entries = await app.doss.outbox.between(start, end, dealers)
        try:
            rows = write_xlsx(path, entries, tz, cfg.ui.language)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror}") from None
        await app.audit.record(
            cli_actor(getpass.getuser()),
            AuditAction.EXPORT,
            "doss.xlsx",
            {
                "first": args.date.isoformat(),
                "last": last.isoformat(),
                "rows": rows,
                "file": str(path),
                "dealer": "group" if args.group else (args.dealer or cfg.dealer.code),
            },
            dealer_id=dealers.dealer_id,
        )
    print(_t(cfg.ui.language, "export.done", rows=rows, first=args.date, last=last, path=path))
    return 0


async def run_push(cfg: Settings, args: argparse.Namespace) -> int:
    _mapping(cfg)
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app, aiohttp.ClientSession() as session:
        outbox = app.doss.outbox
        try:
            worker = PushWorker(outbox, cfg.doss, app.clock, session)
            if args.once:
                total = RoundReport()
                while (report := await worker.run_once()).tried:
                    total = RoundReport(
                        total.delivered + report.delivered, total.retried + report.retried, total.dead + report.dead
                    )
                print(_t(lang, "push.round", delivered=total.delivered, retried=total.retried, dead=total.dead))
            else:
                await worker.run(asyncio.Event())
        except (DossError, StoreError) as exc:
            raise CliError(str(exc)) from None
        counts = await outbox.counts()
    print(_t(lang, "push.counts", **{status.value: n for status, n in counts.items()}))
    return 0


async def run_dead_letters(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        outbox = app.doss.outbox
        if args.retry is not None:
            done = await outbox.retry(args.retry, app.clock.now())
            if not done:
                raise CliError(_t(lang, "dead.not_dead", id=args.retry))
            print(_t(lang, "dead.retried", id=args.retry))
            return 0
        entries = await outbox.dead_letters()
    if args.json:
        print_json([_dead_json(e) for e in entries])
    elif not entries:
        print(_t(lang, "dead.none"))
    else:
        tz = ZoneInfo(cfg.dealer.timezone)
        headers = [
            _t(lang, k) for k in ("col.id", "col.customer", "col.result", "col.recorded", "col.tries", "col.error")
        ]
        rows = [
            (
                e.id,
                e.record.lead.name,
                e.record.result,
                e.created_at.astimezone(tz).strftime(_TIME),
                e.attempts,
                e.last_error,
            )
            for e in entries
        ]
        print_table(headers, rows)
    return 0


def _dead_json(entry: OutboxEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "idempotency_key": entry.idempotency_key,
        "kind": entry.kind.value,
        "created_at": entry.created_at.isoformat(),
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "change": entry.record.to_payload(),
    }


async def run_import_states(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer doss import-states FILE``: DOSS's visits and deals into the leads; again changes nothing."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        try:
            report = await app.manager.import_doss_states(args.file, args.actor or getpass.getuser())
        except LeadError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(report.to_json())
        return 0
    print(_t(lang, "states.summary", file=report.file, recorded=len(report.recorded), unchanged=report.unchanged,
             other=report.other_states, problems=len(report.problems)))  # fmt: skip
    if report.recorded:
        print_table([_t(lang, k) for k in ("col.row", "col.lead", "col.state")],
                    [(r.row, r.lead_id, r.state.zh if lang != "en" else r.state.value) for r in report.recorded])  # fmt: skip
    if report.problems:
        print_table([_t(lang, k) for k in ("col.row", "col.field", "col.value", "col.reason")],
                    [(p.row, p.field, p.value, p.reason) for p in report.problems])  # fmt: skip
    return 0


def run_mapping(cfg: Settings, args: argparse.Namespace) -> int:
    mapping = _mapping(cfg)
    lang = cfg.ui.language
    zh = lang != "en"
    ordered = sorted(mapping.rules.items(), key=lambda item: (item[0][1].value, item[0][0].value))
    if args.json:
        print_json(
            {
                "file": mapping.source,
                "defeat_reasons": list(mapping.defeat_reasons),
                "rules": [
                    {
                        "outcome": outcome.value,
                        "disposition": disposition.value,
                        "state": None if rule.state is None else rule.state.value,
                        "result": rule.result,
                        "intent": None if rule.intent is None else rule.intent.value,
                        "requires": sorted(f.value for f in rule.requires),
                        "allows": sorted(f.value for f in rule.allows),
                        "report_after_attempts": rule.report_after_attempts,
                    }
                    for (outcome, disposition), rule in ordered
                ],
            }
        )
        return 0
    keys = (
        "col.outcome",
        "col.disposition",
        "col.state",
        "col.result",
        "col.intent",
        "col.requires",
        "col.allows",
        "col.report_after",
    )
    rows = [
        (
            outcome.value,
            disposition.value,
            _t(lang, "unchanged") if rule.state is None else (rule.state.zh if zh else rule.state.value),
            rule.result,
            None if rule.intent is None else rule.intent.value,
            ", ".join(sorted(f.value for f in rule.requires)) or None,
            ", ".join(sorted(f.value for f in rule.allows)) or None,
            rule.report_after_attempts,
        )
        for (outcome, disposition), rule in ordered
    ]
    print_table([_t(lang, k) for k in keys], rows)
    print(_t(lang, "mapping.reasons", reasons="、".join(mapping.defeat_reasons)))
    return 0
