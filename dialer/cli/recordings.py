"""``dialer recordings``: evidence search, one recording's history, reconcile, retention and disk status."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.app import App, open_store
from dialer.cli import CliError
from dialer.cli.dealers import (
    add_dealer_options,
    agent_scope,
    chosen_dealers,
    dealer_cell,
    dealer_codes,
    dealer_header,
)
from dialer.cli.output import print_json, print_table
from dialer.domain.recording.model import DiskLevel, DiskStatus, Recording
from dialer.i18n import translate
from dialer.phone import InvalidPhone, normalize
from dialer.recording.disk import DiskWatch
from dialer.recording.registry import ReconcileReport
from dialer.settings import Settings

_KB = 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer recordings`` and its actions to the CLI."""
    p = sub.add_parser("recordings", help="通话录音：证据检索、核对、保存期限、磁盘状态 (call recordings)")
    cmds = p.add_subparsers(dest="recordings_command", metavar="ACTION", required=True)

    s = cmds.add_parser("search", help="find recordings by number, day and agent (newest first)")
    s.add_argument("--number", help="the customer's number (any common format)")
    s.add_argument("--date", help="YYYY-MM-DD, dealer local time (with --to: the first day)")
    s.add_argument("--to", help="YYYY-MM-DD, last day of a range (needs --date)")
    s.add_argument("--agent", help="agent endpoint, e.g. agent3 (with --group: CODE/AGENT, e.g. pudong/8001)")
    s.add_argument("--include-deleted", action="store_true", help="also list rows whose file retention deleted")
    s.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    s.add_argument("--json", action="store_true", help="print JSON objects")
    add_dealer_options(s)
    s.set_defaults(handler=run_search)

    show = cmds.add_parser("show", help="one recording and its history (registration, compression, deletion)")
    show.add_argument("recording_id", type=int, metavar="RECORDING_ID")
    show.add_argument("--json", action="store_true")
    add_dealer_options(show)
    show.set_defaults(handler=run_show)

    r = cmds.add_parser("reconcile", help="files without rows, rows without files")
    r.add_argument(
        "--fix", action="store_true", help="register orphans of ended calls, remove superseded WAVs, mark missing rows"
    )
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=run_reconcile)

    purge = cmds.add_parser("purge", help="delete recordings older than recording.retention_days (audited)")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(handler=run_purge)

    st = cmds.add_parser("status", help="free space on the recordings disk (what the wallboard shows)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=run_status)


def _day(text: str, lang: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(translate("rec.bad_date", lang, value=text)) from None


def _local_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


async def run_search(cfg: Settings, args: argparse.Namespace) -> int:
    """Evidence search: needs at least one filter, prints a table or JSON."""
    lang = cfg.ui.language
    if not (args.number or args.date or args.agent):
        raise CliError(translate("rec.search.need_filter", lang))
    number = None
    if args.number:
        try:
            number = normalize(args.number, cfg.dealer.region).e164
        except InvalidPhone as exc:
            raise CliError(translate("rec.bad_number", lang, value=args.number, reason=exc.reason)) from None
    tz = ZoneInfo(cfg.dealer.timezone)
    since = until = None
    if args.date:
        first = _day(args.date, lang)
        last = _day(args.to, lang) if args.to else first
        since, until = _local_start(first, tz), _local_start(last + timedelta(days=1), tz)
    async with open_store(cfg, args.clock) as app:
        dealers, agent = await agent_scope(app, args)
        found = await app.recordings.search(
            number=number,
            agent=agent,
            since=since,
            until=until,
            include_deleted=args.include_deleted,
            limit=args.limit,
            dealers=dealers,
        )
        codes = await dealer_codes(app)
        if args.json:
            print_json([_json(r, codes) for r in found])
        elif found:
            print_recordings(found, lang, tz, _dealer_column(app, codes) if dealers.mixed else None)
        else:
            print(translate("rec.none", lang))
    return 0


def _json(recording: Recording, codes: dict[int, str]) -> dict[str, object]:
    return {**recording.to_json_dict(), "dealer": codes.get(recording.dealer_id)}


def _dealer_column(app: App, codes: dict[int, str]) -> tuple[str, dict[int, str]]:
    """The dealer column's heading and each dealer's cell, for a list of several dealers' recordings."""
    return dealer_header(app), {dealer_id: dealer_cell(app, codes, dealer_id) for dealer_id in codes}


def print_recordings(
    recordings: list[Recording], lang: str, tz: ZoneInfo, dealer: tuple[str, dict[int, str]] | None = None
) -> None:
    """The search result as a table; times in the dealer's local time, numbers in full (for entitled users);
    with ``dealer`` (the heading, each dealer's cell) a column naming each recording's dealer."""
    keys = ("rec.col.id", "rec.col.started", "rec.col.agent", "rec.col.number", "rec.col.direction",
            "rec.col.duration", "rec.col.size", "rec.col.format", "rec.col.state")  # fmt: skip
    rows = [
        (r.id, f"{r.started_at.astimezone(tz):%Y-%m-%d %H:%M:%S}", r.agent, r.number,
         translate(f"rec.direction.{r.direction.value}", lang), f"{r.duration_s:.1f}", f"{r.size_bytes / _KB:.0f}",
         r.format.value, _state(r, lang, tz), *(() if dealer is None else (dealer[1].get(r.dealer_id, ""),)))
        for r in recordings
    ]  # fmt: skip
    print_table([*(translate(k, lang) for k in keys), *(() if dealer is None else (dealer[0],))], rows)


def _state(r: Recording, lang: str, tz: ZoneInfo) -> str:
    if r.deleted_at is None:
        return translate("rec.state.kept", lang)
    return translate("rec.state.deleted", lang, at=f"{r.deleted_at.astimezone(tz):%Y-%m-%d}")


async def run_show(cfg: Settings, args: argparse.Namespace) -> int:
    """One recording with its audit trail."""
    lang = cfg.ui.language
    async with open_store(cfg, args.clock) as app:
        dealers = await chosen_dealers(app, args)
        recording = await app.recordings.get(args.recording_id)
        if recording is None:
            raise CliError(translate("rec.not_found", lang, id=args.recording_id))
        codes = await dealer_codes(app)
        if not dealers.allows(recording.dealer_id):
            # The group's IT runs this on a node: say whose it is rather than "does not exist".
            code = codes.get(recording.dealer_id, str(recording.dealer_id))
            raise CliError(translate("rec.show.other_dealer", lang, id=recording.id, dealer=code))
        trail = await app.recordings.audit_trail(recording.id)
        dealer = _dealer_column(app, codes) if dealers.mixed else None
    if args.json:
        print_json({**_json(recording, codes),
                    "audit": [{"action": e.action.value, "actor": e.actor, "at": e.at.isoformat(), "detail": e.detail} for e in trail]})  # fmt: skip
        return 0
    tz = ZoneInfo(cfg.dealer.timezone)
    print_recordings([recording], lang, tz, dealer)
    print()
    print(translate("rec.audit.title", lang))
    print_table([translate(k, lang) for k in ("rec.col.at", "rec.col.action", "rec.col.actor", "rec.col.detail")],
                [(f"{e.at.astimezone(tz):%Y-%m-%d %H:%M:%S}", e.action.value, e.actor, e.detail) for e in trail])  # fmt: skip
    return 0


async def run_reconcile(cfg: Settings, args: argparse.Namespace) -> int:
    """Reconcile folder and registry; exit 1 when problems were found and not fixed (for cron)."""
    async with open_store(cfg, args.clock) as app:
        report = await app.recordings.reconcile(fix=args.fix)
    if args.json:
        print_json(_report_json(report))
    else:
        print_reconcile(report, cfg.ui.language)
    return 0 if report.clean or report.fixed else 1


def _report_json(report: ReconcileReport) -> dict[str, object]:
    return {
        "clean": report.clean,
        "fixed": report.fixed,
        "orphan_files": list(report.orphan_files),
        "in_progress": list(report.in_progress),
        "superseded": list(report.superseded),
        "adopted": [r.to_json_dict() for r in report.adopted],
        "missing": [r.to_json_dict() for r in report.missing],
    }


def print_reconcile(report: ReconcileReport, lang: str) -> None:
    """Counts first, then the paths, so a long list does not hide the summary."""
    if report.clean and not report.adopted:
        print(translate("rec.reconcile.clean", lang))
    for key, items in (("orphans", report.orphan_files), ("missing", [r.path for r in report.missing]),
                       ("superseded", report.superseded), ("adopted", [r.path for r in report.adopted]),
                       ("in_progress", report.in_progress)):  # fmt: skip
        if items:
            print(translate(f"rec.reconcile.{key}", lang, count=len(items)))
            for path in items:
                print(f"  {path}")
    if not report.clean and not report.fixed:
        print(translate("rec.reconcile.hint", lang))


async def run_purge(cfg: Settings, args: argparse.Namespace) -> int:
    """Apply retention now."""
    async with open_store(cfg, args.clock) as app:
        deleted = await app.recordings.purge_expired()
    if args.json:
        print_json([r.to_json_dict() for r in deleted])
    else:
        print(translate("rec.purge.done", cfg.ui.language, count=len(deleted), days=cfg.recording.retention_days))
    return 0


def run_status(cfg: Settings, args: argparse.Namespace) -> int:
    """Check the recordings disk once; exit 1 when it is full (for monitoring)."""
    root = cfg.path(cfg.recording.dir).resolve()
    status = DiskWatch(cfg.recording, root, args.clock).check()
    if args.json:
        print_json(status.to_json_dict())
    else:
        print(status_line(status, cfg))
    return 0 if status.level is not DiskLevel.FULL else 1


def status_line(status: DiskStatus, cfg: Settings) -> str:
    """One line for people; the wallboard takes ``to_json_dict()`` instead."""
    lang = cfg.ui.language
    policy = translate("rec.status.policy.keep" if status.recording_allowed else "rec.status.policy.stop", lang)
    return translate(f"rec.status.{status.level.value}", lang, free_mb=status.free_mb, total_mb=status.total_mb,
                     path=status.path, policy=policy)  # fmt: skip
