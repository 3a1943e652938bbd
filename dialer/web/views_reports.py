"""Reports (KPIs, sources, defeat reasons, QA; the daily and weekly sheets) as pages with bar charts, XLSX
and JSON; the user list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action, can
from dialer.domain.audit.model import AuditAction
from dialer.domain.auth.records import UserRecord
from dialer.domain.kpi.metrics import Month
from dialer.domain.kpi.targets import TargetError, TargetKpi, TargetProgress, parse_target
from dialer.domain.reports.sheets import Week
from dialer.domain.reports.tables import Sheet, daily_tables, percent, weekly_tables
from dialer.kpi.service import daily, monthly_kpis, set_target, weekly
from dialer.web.dealers import agent_filter, audit_dealer, dealer_names, dealers_of
from dialer.web.errors import BadRequest
from dialer.web.forms import json_object
from dialer.web.html import policy_user, render, t
from dialer.web.keys import AUTH, DIALER, LANG, SETTINGS, console_actor, session_of
from dialer.web.reports import bar_chart, gather, tables, to_xlsx
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MONTH = Param("month", "YYYY-MM, dealer local time (default: this month)")


_FIRST_YEAR, _LAST_YEAR = 1990, 2999


def _month(request: web.Request) -> Month:
    text = request.query.get("month")
    if not text:
        app = request.app[DIALER]
        return Month.containing(app.clock.now(), ZoneInfo(request.app[SETTINGS].dealer.timezone))
    try:
        month = Month.parse(text)
    except ValueError:
        raise BadRequest({"month": f"{text!r} is not a month (YYYY-MM)"}) from None
    # The report compares with the month and the year before: keep all three real calendar months.
    if not _FIRST_YEAR <= month.year <= _LAST_YEAR:
        raise BadRequest({"month": f"{text!r}: the year must be between {_FIRST_YEAR} and {_LAST_YEAR}"})
    return month


@routes.route("GET", "/reports", Action.KPI_REPORT_VIEW, "The month's reports with bar charts")
async def reports_page(request: web.Request) -> web.StreamResponse:
    """KPI, agents, sources, defeat reasons and QA for ?month=, each table with its chart."""
    month = _month(request)
    sheets = tables(await gather(request.app[DIALER], month, dealers_of(request)), request[LANG])
    return render(
        request, "reports.html", t(request, "web.report.title", month=str(month)), month=str(month),
        sheets=[(sheet, bar_chart(sheet)) for sheet in sheets],
    )  # fmt: skip


@routes.route("GET", "/reports/export.xlsx", Action.KPI_REPORT_VIEW, "The month's reports as an XLSX workbook",
              query=(_MONTH,), response=_XLSX)  # fmt: skip
async def reports_xlsx(request: web.Request) -> web.StreamResponse:
    """One worksheet per table of the page."""
    month = _month(request)
    body = to_xlsx(tables(await gather(request.app[DIALER], month, dealers_of(request)), request[LANG]))
    await request.app[DIALER].audit.record(
        session_of(request).user.name, AuditAction.EXPORT, "reports.xlsx", {"month": str(month)},
        dealer_id=audit_dealer(request, dealers_of(request).dealer_id),
    )  # fmt: skip
    return _xlsx(body, f"dcc-report-{month}.xlsx")


@routes.route("GET", "/api/kpi", Action.KPI_REPORT_VIEW, "The month's KPIs (whole DCC, or ?agent=)",
              query=(_MONTH, Param("agent", "one agent's KPIs; group-wide: code/agent, e.g. pudong/8001")))  # fmt: skip
async def api_kpi(request: web.Request) -> web.StreamResponse:
    """The same JSON as ``dialer kpi --json``."""
    app = request.app[DIALER]
    month = _month(request)
    dealers, agent = await agent_filter(request)
    kpis = await monthly_kpis(app.db, app.settings, app.clock, month, agent, dealers)
    return web.json_response(kpis.to_json())


@routes.route("GET", "/api/reports", Action.KPI_REPORT_VIEW, "The month's report tables as JSON", query=(_MONTH,))
async def api_reports(request: web.Request) -> web.StreamResponse:
    """Every table of the report page: id, title, headers, rows."""
    sheets = tables(await gather(request.app[DIALER], _month(request), dealers_of(request)), request[LANG])
    return web.json_response({"tables": _tables_json(sheets)})


_DAY = Param("date", "the meeting's day, YYYY-MM-DD, dealer local time (default: today)")
_WEEK = Param("week", "ISO week YYYY-Www, e.g. 2026-W48 (default: last week)")


def _day(request: web.Request) -> date | None:
    text = request.query.get("date")
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadRequest({"date": f"{text!r} is not a day (YYYY-MM-DD)"}) from None
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise BadRequest({"date": f"{text!r}: the year must be between {_FIRST_YEAR} and {_LAST_YEAR}"})
    return day


def _week(request: web.Request) -> Week | None:
    text = request.query.get("week")
    if not text:
        return None
    try:
        week = Week.parse(text)
    except ValueError as exc:
        raise BadRequest({"week": str(exc)}) from None
    if not _FIRST_YEAR <= week.year <= _LAST_YEAR:
        raise BadRequest({"week": f"{text!r}: the year must be between {_FIRST_YEAR} and {_LAST_YEAR}"})
    return week


async def _daily(request: web.Request) -> tuple[str, str, list[Sheet], str | None]:
    """The daily sheet's day (as text), title and tables; a note when the day ahead is not known."""
    app, lang = request.app[DIALER], request[LANG]
    sheet = await daily(app.db, app.settings, app.clock, _day(request), dealers_of(request))
    day = sheet.day.isoformat()
    note = None if sheet.today is not None else t(request, "report.daily.no_agenda", day=day)
    return day, t(request, "report.daily.title", day=day), daily_tables(sheet, lang), note


async def _weekly(request: web.Request) -> tuple[str, str, list[Sheet]]:
    app = request.app[DIALER]
    sheet = await weekly(app.db, app.settings, app.clock, _week(request), dealers_of(request))
    week = str(sheet.week)
    return week, t(request, "report.weekly.title", week=week), weekly_tables(sheet, request[LANG])


def _xlsx(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body, content_type=_XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _tables_json(sheets: list[Sheet]) -> list[dict[str, object]]:
    return [
        {"id": s.id, "title": s.title, "headers": list(s.headers), "rows": [list(r) for r in s.rows]} for s in sheets
    ]


@routes.route("GET", "/reports/daily", Action.KPI_REPORT_VIEW, "The daily sheet for the morning meeting")
async def daily_page(request: web.Request) -> web.StreamResponse:
    """Yesterday per agent, and what is due today, for ?date= (default today)."""
    day, title, sheets, note = await _daily(request)
    return render(request, "report_sheet.html", title, kind="daily", value=day, note=note,
                  sheets=[(sheet, bar_chart(sheet)) for sheet in sheets])  # fmt: skip


@routes.route("GET", "/reports/daily.xlsx", Action.KPI_REPORT_VIEW, "The daily sheet as an XLSX workbook",
              query=(_DAY,), response=_XLSX)  # fmt: skip
async def daily_xlsx(request: web.Request) -> web.StreamResponse:
    day, _title, sheets, _note = await _daily(request)
    await request.app[DIALER].audit.record(
        session_of(request).user.name, AuditAction.EXPORT, "reports.daily.xlsx", {"date": day},
        dealer_id=audit_dealer(request, dealers_of(request).dealer_id),
    )  # fmt: skip
    return _xlsx(to_xlsx(sheets), f"dcc-daily-{day}.xlsx")


@routes.route("GET", "/api/reports/daily", Action.KPI_REPORT_VIEW, "The daily sheet: counts and tables",
              query=(_DAY,))  # fmt: skip
async def api_daily(request: web.Request) -> web.StreamResponse:
    """The same JSON as ``dialer report daily --json`` under ``sheet``, and the page's tables."""
    app = request.app[DIALER]
    sheet = await daily(app.db, app.settings, app.clock, _day(request), dealers_of(request))
    return web.json_response({"sheet": sheet.to_json(), "tables": _tables_json(daily_tables(sheet, request[LANG]))})


@routes.route("GET", "/reports/weekly", Action.KPI_REPORT_VIEW, "The weekly sheet with the defeat-reason analysis")
async def weekly_page(request: web.Request) -> web.StreamResponse:
    """The week per agent and its defeats by reason, for ?week= (default last week)."""
    week, title, sheets = await _weekly(request)
    return render(request, "report_sheet.html", title, kind="weekly", value=week, note=None,
                  sheets=[(sheet, bar_chart(sheet)) for sheet in sheets])  # fmt: skip


@routes.route("GET", "/reports/weekly.xlsx", Action.KPI_REPORT_VIEW, "The weekly sheet as an XLSX workbook",
              query=(_WEEK,), response=_XLSX)  # fmt: skip
async def weekly_xlsx(request: web.Request) -> web.StreamResponse:
    week, _title, sheets = await _weekly(request)
    await request.app[DIALER].audit.record(
        session_of(request).user.name, AuditAction.EXPORT, "reports.weekly.xlsx", {"week": week},
        dealer_id=audit_dealer(request, dealers_of(request).dealer_id),
    )  # fmt: skip
    return _xlsx(to_xlsx(sheets), f"dcc-weekly-{week}.xlsx")


@routes.route("GET", "/api/reports/weekly", Action.KPI_REPORT_VIEW, "The weekly sheet: counts and tables",
              query=(_WEEK,))  # fmt: skip
async def api_weekly(request: web.Request) -> web.StreamResponse:
    """The same JSON as ``dialer report weekly --json`` under ``sheet``, and the page's tables."""
    app = request.app[DIALER]
    sheet = await weekly(app.db, app.settings, app.clock, _week(request), dealers_of(request))
    return web.json_response({"sheet": sheet.to_json(), "tables": _tables_json(weekly_tables(sheet, request[LANG]))})


# -- the sales manager's monthly KPI targets -------------------------------------------------------


async def _targets(request: web.Request, month: Month) -> tuple[TargetProgress, ...]:
    app = request.app[DIALER]
    return (await monthly_kpis(app.db, app.settings, app.clock, month, dealers=dealers_of(request))).targets


async def _set_targets(request: web.Request, month: Month, values: Mapping[str, object]) -> None:
    """Set each KPI named in ``values`` (an empty value clears it); nothing is set unless every value is valid.
    Each change is an audit row with the value before it."""
    parsed: dict[TargetKpi, float | None] = {}
    errors: dict[str, str] = {}
    for name, raw in values.items():
        text = "" if raw is None else str(raw) if isinstance(raw, int | float | str) else None
        if text is None:
            errors[name] = "must be a number"
            continue
        try:
            kpi, target = parse_target(name, text)
        except TargetError as exc:
            errors[name] = str(exc).removeprefix(f"{exc.field}: ")
            continue
        parsed[kpi] = target
    dealer_id = dealers_of(request).dealer_id
    if dealer_id is None:
        errors["dealer"] = "targets are set per dealer: choose one"
    if errors:
        raise BadRequest(errors)
    assert dealer_id is not None
    app = request.app[DIALER]
    before = {p.kpi: p.target for p in await _targets(request, month)}
    for kpi, target in parsed.items():
        if before.get(kpi) == target:
            continue
        await set_target(app.db, app.clock, month, kpi, target, console_actor(request), dealer_id)
        await app.audit.record(
            session_of(request).user.name, AuditAction.KPI_TARGET_SET, str(month),
            {"kpi": kpi.value, "target": target, "previous": before.get(kpi)},
            dealer_id=audit_dealer(request, dealer_id),
        )  # fmt: skip


def _target_json(month: Month, targets: tuple[TargetProgress, ...]) -> dict[str, object]:
    return {"month": str(month), "targets": [p.to_json() for p in targets]}


@routes.route("GET", "/api/kpi/targets", Action.KPI_REPORT_VIEW, "The month's KPI targets and the progress so far",
              query=(_MONTH,))  # fmt: skip
async def api_targets(request: web.Request) -> web.StreamResponse:
    """Each target set for ?month= with the month's value and the share of the target reached."""
    month = _month(request)
    return web.json_response(_target_json(month, await _targets(request, month)))


@routes.route("POST", "/api/kpi/targets", Action.KPI_TARGET_SET, "Set the month's KPI targets (null or \"\" clears)",
              body="application/json", fields=(
                  Param("month", "YYYY-MM, dealer local time", required=True),
                  *(Param(k.value, "a percentage" if k.is_rate else "a whole number", type="number")
                    for k in TargetKpi),
              ))  # fmt: skip
async def api_set_targets(request: web.Request) -> web.StreamResponse:
    """The targets after the change; 400 naming every field at fault (and nothing set)."""
    body = await json_object(request)
    month = _month_text(body.get("month"))
    await _set_targets(request, month, {k: v for k, v in body.items() if k != "month"})
    return web.json_response(_target_json(month, await _targets(request, month)))


@routes.route("GET", "/reports/targets", Action.KPI_REPORT_VIEW, "The month's KPI targets and progress (form)")
async def targets_page(request: web.Request) -> web.StreamResponse:
    """The targets of ?month= with the progress so far; the sales manager's form to set them."""
    return await _targets_page(request, _month(request), {}, {})


@routes.route("POST", "/reports/targets", Action.KPI_TARGET_SET, "Set the month's KPI targets (form)")
async def targets_set(request: web.Request) -> web.StreamResponse:
    """Set, then the page again; a refused value is shown next to its field with what was typed."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and k != "csrf_token"}
    month = _month_text(form.pop("month", None))
    try:
        await _set_targets(request, month, form)
    except BadRequest as exc:
        return await _targets_page(request, month, exc.fields, form, status=400)
    raise web.HTTPSeeOther(f"/reports/targets?month={month}")


async def _targets_page(
    request: web.Request, month: Month, errors: Mapping[str, str], typed: Mapping[str, str], *, status: int = 200
) -> web.StreamResponse:
    targets = {p.kpi: p for p in await _targets(request, month)}
    rows = []
    for kpi in TargetKpi:
        found = targets.get(kpi)
        rows.append({
            "kpi": kpi.value, "label": t(request, "report.target." + kpi.value), "rate": kpi.is_rate,
            "typed": typed.get(kpi.value, "" if found is None else f"{found.target:g}"),
            "actual": "-" if found is None or found.actual is None else f"{found.actual:.1f}" if kpi.is_rate
            else f"{found.actual:g}",
            "progress": "-" if found is None or found.progress is None else percent(found.progress),
            "bar": 0.0 if found is None or found.progress is None else min(found.progress, 1.0) * 100,
        })  # fmt: skip
    user = policy_user(request)
    may_set = user is not None and can(user, Action.KPI_TARGET_SET).allowed
    response = render(request, "report_targets.html", t(request, "report.target.title", month=str(month)),
                      month=str(month), rows=rows, errors=errors, may_set=may_set)  # fmt: skip
    response.set_status(status)
    return response


def _month_text(raw: object) -> Month:
    """A month the form or body names (it must: targets belong to one month)."""
    try:
        month = Month.parse(raw if isinstance(raw, str) else "")
    except ValueError:
        raise BadRequest({"month": f"{raw!r} is not a month (YYYY-MM)"}) from None
    if not _FIRST_YEAR <= month.year <= _LAST_YEAR:
        raise BadRequest({"month": f"{raw!r}: the year must be between {_FIRST_YEAR} and {_LAST_YEAR}"})
    return month


async def _user_rows(request: web.Request, users: list[UserRecord]) -> list[tuple[object, ...]]:
    """The users as the table shows them; with the dealer column where several dealers' people mix."""
    names = await dealer_names(request) if dealers_of(request).mixed else None
    rows = []
    for u in users:
        row: tuple[object, ...] = (
            u.name,
            t(request, "web.role." + u.role.value),
            u.agent or "",
            u.mobile or "",
            "" if u.disabled_at is None else "✗",
        )
        if names is not None:
            row += (t(request, "web.dealer.group") if u.dealer_id is None else names.get(u.dealer_id, ""),)
        rows.append(row)
    return rows


@routes.route("GET", "/users", Action.USER_LIST, "Console users (add them with 'dialer users add')")
async def users_page(request: web.Request) -> web.StreamResponse:
    """The logins, their roles and agent identities."""
    users = await request.app[AUTH].users(dealers_of(request))
    columns = ["web.col.name", "web.col.role", "web.col.agent", "web.col.mobile", "web.col.disabled"]
    if dealers_of(request).mixed:
        columns.append("web.col.dealer")
    headers = [t(request, k) for k in columns]
    return render(
        request, "users.html", t(request, "web.users.title"), headers=headers, rows=await _user_rows(request, users)
    )


@routes.route("GET", "/api/users", Action.USER_LIST, "Console users")
async def api_users(request: web.Request) -> web.StreamResponse:
    """Name, role and agent identity of every login (never a password hash)."""
    users = await request.app[AUTH].users(dealers_of(request))
    names = await dealer_names(request)
    return web.json_response({"users": [{"name": u.name, "role": u.role.value, "agent": u.agent, "mobile": u.mobile,
                                         "disabled": u.disabled_at is not None,
                                         "dealer": None if u.dealer_id is None else names.get(u.dealer_id)}
                                        for u in users]})  # fmt: skip
