"""``dialer leads``: import lead files, list due follow-ups, transfer leads, ownership, the clean-up report, the template.

Tables are Chinese unless ``ui.language`` is ``en``; ``--json`` prints the full
report for scripts. ImportProgress of a big import goes to stderr.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers, dealer_cell, dealer_codes, dealer_header
from dialer.cli.output import print_json, print_table
from dialer.domain.doss.errors import DossError
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.errors import LeadError
from dialer.domain.leads.hygiene import NO_REASON, HygieneReport
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.domain.leads.template import TEMPLATE
from dialer.i18n import translate
from dialer.leads.importer import ImportProgress, ImportReport, Phase
from dialer.leads.service import DueItem, DueScope, LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.errors import StoreError

# Rejection reasons (stable English from dialer.leads) in Chinese.
_REASONS_ZH: Mapping[str, str] = {
    "empty": "为空",
    "no phone number": "没有电话号码",
    "landline without area code": "固话缺少区号",
    "wrong length": "位数不对",
    "not a valid number": "不是有效号码",
    "not a dialable mobile or landline": "不是可拨打的手机或固话",
    "too short": "太短",
    "too long": "太长",
    "not a number": "不是号码",
    "unknown country code": "国家代码无效",
    "unknown source": "无法识别的线索来源",
    "empty and no --source given": "为空且未指定 --source",
    "intent level must be H, A, B or C": "意向级别须为 H、A、B 或 C",
    "expected 是 or 否 (yes or no)": "应填“是”或“否”",
    "not a date (use YYYY-MM-DD)": "日期格式不对（应为 YYYY-MM-DD）",
    "not a time (use HH:MM)": "时间格式不对（应为 HH:MM）",
    "in the future": "晚于当前时间",
    "contains an unprintable character": "含有不可打印的字符（控制字符等）",
}


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.leads.{key}", lang, **params)


def _reason(lang: str, reason: str) -> str:
    if lang == "en":
        return reason
    head, _, detail = reason.partition(": ")
    if head == "numbers belong to different leads":
        return f"号码分属不同线索：{detail}"
    return _REASONS_ZH.get(reason, reason)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer leads`` and its actions to the command line."""
    p = sub.add_parser("leads", help="lead files, due follow-ups, monthly clean-up")
    leads = p.add_subparsers(dest="leads_command", metavar="ACTION", required=True)

    imp = leads.add_parser("import", help="import a CSV or XLSX lead file (see docs/leads-import.md)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--source", choices=[s.value for s in LeadSource], help="source of rows that leave 线索来源 empty")
    imp.add_argument("--owner", help="owner (负责人) of rows that leave it empty: an agent's identity, login or alias")
    imp.add_argument("--actor", default=None, help="who is importing (default: the login name)")
    imp.add_argument("--json", action="store_true", help="print the full report as JSON")
    imp.add_argument(
        "--force", action="store_true", help="read the file even if these exact bytes were imported before"
    )
    imp.set_defaults(handler=run_import)

    due = leads.add_parser("due", help="leads due for follow-up (default: due by the end of today)")
    scope = due.add_mutually_exclusive_group()
    scope.add_argument(
        "--overdue", action="store_const", dest="scope", const=DueScope.OVERDUE, help="only deadlines already missed"
    )
    scope.add_argument("--all", action="store_const", dest="scope", const=DueScope.ALL, help="every scheduled deadline")
    due.add_argument("--owner", help="only this owner's leads")
    due.add_argument("--json", action="store_true")
    add_dealer_options(due)
    due.set_defaults(handler=run_due, scope=DueScope.TODAY)

    hyg = leads.add_parser("hygiene", help="monthly clean-up: invalid numbers, duplicates, defeated-lead analysis")
    hyg.add_argument("--month", required=True, help="YYYY-MM (dealer local time)")
    hyg.add_argument("--json", action="store_true")
    hyg.set_defaults(handler=run_hygiene)

    tr = leads.add_parser("transfer", help="assign or transfer leads to an agent (recorded in history and for DOSS)")
    tr.add_argument("lead_ids", nargs="+", type=int, metavar="LEAD_ID")
    tr.add_argument("--to", required=True, dest="to_owner", help="the agent: their identity, login or alias")
    tr.add_argument("--reason", required=True, help="why (shown in the lead's history and DOSS's note)")
    tr.add_argument("--actor", default=None, help="who decides (default: the login name)")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(handler=run_transfer)

    visit = leads.add_parser("visit", help="the customer came to the showroom (after an invitation, for the KPIs)")
    visit.add_argument("lead_id", type=int, metavar="LEAD_ID")
    visit.add_argument("--at", help="when, YYYY-MM-DD HH:MM dealer local time (default: now)")
    visit.add_argument("--test-drive", action="store_true", help="the customer test-drove (试乘试驾)")
    visit.add_argument("--note", help="for DOSS's note column")
    visit.add_argument("--actor", default=None, help="who reports it (default: the login name)")
    visit.set_defaults(handler=run_milestone, state=LeadState.VISITED, model=None)

    deal = leads.add_parser("deal", help="the customer bought (成交), reported to DOSS")
    deal.add_argument("lead_id", type=int, metavar="LEAD_ID")
    deal.add_argument("--at", help="when, YYYY-MM-DD HH:MM dealer local time (default: now)")
    deal.add_argument("--model", help="the model bought")
    deal.add_argument("--note", help="for DOSS's note column")
    deal.add_argument("--actor", default=None, help="who reports it (default: the login name)")
    deal.set_defaults(handler=run_milestone, state=LeadState.DEAL, test_drive=False)

    own = leads.add_parser("owners", help="ownership: leads per owner by state, overdue per owner, unassigned")
    own.add_argument("--json", action="store_true")
    add_dealer_options(own)
    own.set_defaults(handler=run_owners)

    tpl = leads.add_parser("template", help="write an empty import template (.xlsx or .csv)")
    tpl.add_argument("file", type=Path)
    tpl.set_defaults(handler=run_template)


async def run_import(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads import``: one file, one transaction, one report."""
    lang = cfg.ui.language

    def progress(p: ImportProgress) -> None:
        if p.phase is Phase.WRITE:
            print(_t(lang, "progress.write", rows=p.rows), file=sys.stderr, flush=True)
        elif p.total:
            # The total is an estimate: never show more rows done than in all, or over 100 %.
            total = max(p.total, p.rows)
            print(
                _t(lang, "progress.read_of", rows=p.rows, total=total, percent=p.rows * 100 // total),
                file=sys.stderr,
                flush=True,
            )
        else:
            print(_t(lang, "progress.read", rows=p.rows), file=sys.stderr, flush=True)

    async with open_store(cfg, args.clock) as app:
        service = app.leads
        try:
            report = await service.importer.import_file(
                args.file,
                actor=args.actor or getpass.getuser(),
                source=None if args.source is None else LeadSource(args.source),
                owner=args.owner,
                progress=progress,
                force=args.force,
            )
        except (LeadError, StoreError) as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(report.to_json())
    else:
        print_import(report, lang, service)
    return 0


def print_import(report: ImportReport, lang: str, service: LeadService) -> None:
    """The human report of one import."""
    previous = report.previous
    if report.skipped and previous is not None:
        at = previous.at.astimezone(service.tz).strftime("%Y-%m-%d %H:%M")
        print(_t(lang, "import.skipped", file=report.file, at=at, id=previous.id))
        print(
            _t(
                lang,
                "import.skipped_counts",
                rows=previous.rows,
                created=previous.created,
                updated=previous.updated,
                unchanged=previous.unchanged,
                rejected=previous.rejected,
            )
        )
        return
    print(
        _t(
            lang,
            "import.summary",
            file=report.file,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            merged=len(report.merged),
            rejected=report.rejected_rows,
            conflicts=len(report.conflicts),
        )
    )
    if report.nothing_changed:
        print(_t(lang, "import.nothing"))
    else:
        print(_t(lang, "import.batch", id=report.import_id))
    if previous is not None:
        at = previous.at.astimezone(service.tz).strftime("%Y-%m-%d %H:%M")
        print(_t(lang, "import.seen", at=at, id=previous.id))
    if report.ignored_headers:
        print(_t(lang, "import.ignored", headers="、".join(report.ignored_headers)))
    sections: list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]] = [
        (
            "import.rejected",
            ("col.row", "col.field", "col.value", "col.reason"),
            [(r.row, r.field, r.value, _reason(lang, r.reason)) for r in report.rejections],
        ),
        ("import.merged", ("col.row", "col.into_row"), [(m.row, m.into_row) for m in report.merged]),
        (
            "import.conflicts",
            ("col.row", "col.lead", "col.owner", "col.claimant"),
            [(c.row, c.lead_id, c.owner, c.claimant) for c in report.conflicts],
        ),
        (
            "import.names",
            ("col.row", "col.name", "col.kept_name"),
            [(n.row, n.name, n.kept_name) for n in report.name_mismatches],
        ),
        ("import.unknown_owners", ("col.row", "col.owner"), [(u.row, u.name) for u in report.unknown_owners]),
    ]
    for title, headers, rows in sections:
        if rows:
            print()
            print(_t(lang, title))
            print_table([_t(lang, h) for h in headers], rows)


async def run_due(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads due``: the follow-up work list."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        service = app.leads
        dealers = await chosen_dealers(app, args)
        items = await service.due(args.scope, owner=args.owner, dealers=dealers)
        codes = await dealer_codes(app)
        if args.json:
            print_json([{**_due_json(item), "dealer": codes.get(item.lead.dealer_id)} for item in items])
        elif not items:
            print(_t(lang, "due.none"))
        else:
            column = None if not dealers.mixed else (dealer_header(app), lambda i: dealer_cell(app, codes, i))
            print_due(items, lang, service, column)
    return 0


def _due_json(item: DueItem) -> dict[str, object]:
    lead = item.lead
    phone = lead.primary_phone
    return {
        "id": lead.id,
        "name": lead.name,
        "phone": None if phone is None else phone.e164,
        "source": lead.source.value,
        "state": lead.state.value,
        "intent": None if lead.intent is None else lead.intent.value,
        "owner": lead.owner,
        "due_at": None if lead.due_at is None else lead.due_at.isoformat(),
        "due_kind": lead.due_kind,
        "overdue": item.overdue,
    }


def print_due(
    items: list[DueItem], lang: str, service: LeadService, dealer: tuple[str, Callable[[int], str]] | None = None
) -> None:
    """The due list as a table; local times, Chinese labels by default; ``dealer``: the heading and cells
    of a dealer column (a list of several dealers' leads)."""
    zh = lang != "en"
    headers = [
        _t(lang, k)
        for k in (
            "col.lead",
            "col.name",
            "col.phone",
            "col.source",
            "col.state",
            "col.intent",
            "col.owner",
            "col.due_at",
            "col.due_kind",
            "col.overdue",
        )
    ]
    rows = []
    for item in items:
        lead = item.lead
        phone = lead.primary_phone
        kind = None if lead.due_kind is None else DueKind(lead.due_kind)
        rows.append(
            [
                lead.id,
                lead.name,
                None if phone is None else phone.e164,
                lead.source.zh if zh else lead.source.value,
                lead.state.zh if zh else lead.state.value,
                None if lead.intent is None else lead.intent.value,
                lead.owner,
                None if lead.due_at is None else lead.due_at.astimezone(service.tz).strftime("%Y-%m-%d %H:%M"),
                None if kind is None else (kind.zh if zh else kind.value),
                _t(lang, "yes") if item.overdue else "",
                *([] if dealer is None else [dealer[1](lead.dealer_id)]),
            ]
        )
    print_table(headers + ([] if dealer is None else [dealer[0]]), rows)


async def run_hygiene(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads hygiene``: the monthly clean-up report."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        service = app.leads
        try:
            report = await service.hygiene(args.month)
        except LeadError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(report.to_json())
    else:
        print_hygiene(report, lang)
    return 0


def print_hygiene(report: HygieneReport, lang: str) -> None:
    """The monthly clean-up report, section by section."""
    zh = lang != "en"
    print(_t(lang, "hyg.title", month=report.month))
    print()
    print(_t(lang, "hyg.rejected", count=len(report.rejected_numbers)))
    if report.rejected_numbers:
        print_table(
            [_t(lang, "col.reason"), _t(lang, "col.count")],
            [(_reason(lang, k), v) for k, v in report.rejected_by_reason.items()],
        )
        print_table(
            [_t(lang, k) for k in ("col.file", "col.row", "col.value", "col.reason")],
            [(r.file, r.row, r.value, _reason(lang, r.reason)) for r in report.rejected_numbers],
        )
    print()
    print(_t(lang, "hyg.wrong", count=len(report.wrong_numbers)))
    if report.wrong_numbers:
        print_table(
            [_t(lang, k) for k in ("col.lead", "col.name", "col.phone", "col.why")],
            [(w.lead_id, w.name, w.phone, _t(lang, f"why.{w.why}")) for w in report.wrong_numbers],
        )
    print()
    print(
        _t(
            lang,
            "hyg.imports",
            merged=report.merged_in_file,
            matched=report.matched_stored,
            conflicts=report.ownership_conflicts,
        )
    )
    if report.imports:
        print_table(
            [_t(lang, k) for k in ("col.file", "col.rows", "col.merged", "col.matched", "col.conflicts")],
            [(i.file, i.rows, i.merged_in_file, i.matched_stored, i.conflicts) for i in report.imports],
        )
    print(_t(lang, "hyg.ambiguous", count=len(report.ambiguous_rows)))
    if report.ambiguous_rows:
        print_table(
            [_t(lang, k) for k in ("col.file", "col.row", "col.value", "col.reason")],
            [(r.file, r.row, r.value, _reason(lang, r.reason)) for r in report.ambiguous_rows],
        )
    print(_t(lang, "hyg.candidates", count=len(report.merge_candidates)))
    if report.merge_candidates:
        print_table(
            [_t(lang, k) for k in ("col.name", "col.model", "col.ids")],
            [(c.name, c.model, ", ".join(f"#{i}" for i in c.lead_ids)) for c in report.merge_candidates],
        )
    print()
    d = report.defeated
    print(_t(lang, "hyg.defeated", total=d.total, handed=d.handed_over, dcc=d.lost_by_dcc))

    def label(value: str) -> str:
        return _t(lang, "none") if value == NO_REASON else value

    def source_label(value: str) -> str:
        return LeadSource(value).zh if zh else value

    for title, col, counts, show in (
        ("hyg.by_reason", "col.reason", d.by_reason, label),
        ("hyg.by_source", "col.source", d.by_source, source_label),
        ("hyg.by_model", "col.model", d.by_model, label),
        ("hyg.by_month", "col.month", d.by_month, str),
    ):
        if counts:
            print(_t(lang, title))
            print_table([_t(lang, col), _t(lang, "col.count")], [(show(k), v) for k, v in counts.items()])


async def run_milestone(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads visit`` / ``dialer leads deal``: a showroom milestone, into the lead and DOSS's outbox."""
    lang = cfg.ui.language
    tz = ZoneInfo(cfg.dealer.timezone)
    at = None
    if args.at:
        try:
            at = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=tz)
        except ValueError:
            raise CliError(_t(lang, "milestone.bad_at", value=args.at)) from None
    async with open_store(cfg, args.clock) as app:
        try:
            done = await app.doss.record_milestone(
                args.lead_id,
                args.state,
                args.actor or getpass.getuser(),
                args.note,
                at=at,
                test_drive=args.test_drive,
                model=args.model,
            )
        except (LeadError, DossError) as exc:
            raise CliError(str(exc)) from None
    key = "milestone.visit" if args.state is LeadState.VISITED else "milestone.deal"
    print(_t(lang, key, lead=done.lead.id, name=done.lead.name, state=done.lead.state.value))
    return 0


async def run_transfer(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads transfer``: one manager decision, all leads or none."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        manager = app.manager
        try:
            done = await manager.transfer(args.lead_ids, args.to_owner, args.actor or getpass.getuser(), args.reason)
        except (LeadError, StoreError) as exc:
            raise CliError(str(exc)) from None
    rows = [{"lead_id": d.lead.id, "name": d.lead.name, "from": d.previous_owner, "to": d.lead.owner,
             "result": "transferred" if d.changed else "unchanged"} for d in done]  # fmt: skip
    if args.json:
        print_json(rows)
        return 0
    changed = sum(d.changed for d in done)
    print(_t(lang, "transfer.summary", to=args.to_owner, transferred=changed, unchanged=len(done) - changed))
    print_table([_t(lang, k) for k in ("col.lead", "col.name", "col.from", "col.owner", "col.result")],
                [(r["lead_id"], r["name"], r["from"], r["to"], _t(lang, f"transfer.{r['result']}")) for r in rows])  # fmt: skip
    return 0


async def run_owners(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads owners``: who holds which leads, and how many are overdue."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        summary = await app.leads.ownership(dealers=await chosen_dealers(app, args))
    lines = [*summary.owners, summary.unassigned]
    if args.json:
        print_json([{"owner": o.owner, "by_state": {s.value: n for s, n in o.by_state.items()}, "total": o.total,
                     "overdue": o.overdue} for o in lines])  # fmt: skip
        return 0
    states = [s for s in LeadState if any(s in o.by_state for o in lines)]
    headers = [
        _t(lang, "col.owner"),
        *(s.value if lang == "en" else s.zh for s in states),
        _t(lang, "col.total"),
        _t(lang, "col.overdue"),
    ]
    print_table(headers, [(o.owner or _t(lang, "owners.unassigned"), *(o.by_state.get(s, 0) for s in states), o.total, o.overdue)
                          for o in lines])  # fmt: skip
    return 0


def run_template(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer leads template``: an empty file with the headers dealers fill in."""
    try:
        write_sheet(args.file, [spec.zh for spec in TEMPLATE], [])
    except (LeadError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(_t(cfg.ui.language, "template.written", path=args.file))
    return 0
