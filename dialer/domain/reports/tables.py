"""Reports as tables of text: one layout feeds the console page, its bar charts, the XLSX export and the CLI,
so none of them can disagree with another. Pure: the words come from the catalogs (dialer.i18n)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from dialer.domain.kpi.targets import TargetKpi, TargetProgress
from dialer.domain.reports.funnel import CampaignFunnel
from dialer.domain.reports.sheets import Activity, Agenda, DailySheet, WeeklySheet
from dialer.i18n import translate


@dataclass(frozen=True, slots=True)
class Sheet:
    """One table of a report: an id (HTML id and sheet order), a title, headers, rows, and its chart."""

    id: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    chart_column: int | None = None  # which column the bar chart draws (labels from column 0)


_ACTIVITY_COLUMNS = (
    "report.col.agent",
    "report.col.dials",
    "report.col.talks",
    "report.col.follow_ups",
    "report.col.invitations",
    "report.col.visits",
    "report.col.deals",
)
_AGENDA_COLUMNS = ("report.col.agent", "report.col.due", "report.col.overdue", "report.col.visits_expected")


def percent(share: float) -> str:
    """A share as the reports print it: 0.25 -> ``25.0%``."""
    return f"{share * 100:.1f}%"


def _who(agent: str | None, lang: str, total: bool = False) -> str:
    if total:
        return translate("report.total", lang)
    return agent if agent is not None else translate("report.nobody", lang)


def _activity_rows(rows: tuple[Activity, ...], total: Activity, lang: str) -> tuple[tuple[object, ...], ...]:
    def row(a: Activity, is_total: bool = False) -> tuple[object, ...]:
        return (_who(a.agent, lang, is_total), a.dials, a.talks, a.follow_ups, a.invitations, a.visits, a.deals)

    return (*(row(a) for a in rows), row(total, True)) if rows else ()


def _agenda_rows(rows: tuple[Agenda, ...], total: Agenda, lang: str) -> tuple[tuple[object, ...], ...]:
    def row(a: Agenda, is_total: bool = False) -> tuple[object, ...]:
        return (_who(a.agent, lang, is_total), a.due, a.overdue, a.visits_expected)

    return (*(row(a) for a in rows), row(total, True)) if rows else ()


def daily_tables(sheet: DailySheet, lang: str) -> list[Sheet]:
    """Yesterday per agent; today per owner (only for the day that is running)."""
    yesterday = sheet.day - timedelta(days=1)
    tables = [
        Sheet(
            "yesterday",
            translate("report.daily.yesterday", lang, day=yesterday.isoformat()),
            tuple(translate(k, lang) for k in _ACTIVITY_COLUMNS),
            _activity_rows(sheet.yesterday, sheet.yesterday_total, lang),
        )
    ]
    if sheet.today is not None and sheet.today_total is not None:
        tables.append(
            Sheet(
                "today",
                translate("report.daily.today", lang, day=sheet.day.isoformat()),
                tuple(translate(k, lang) for k in _AGENDA_COLUMNS),
                _agenda_rows(sheet.today, sheet.today_total, lang),
            )
        )
    return tables


def weekly_tables(sheet: WeeklySheet, lang: str) -> list[Sheet]:
    """The week per agent; its defeats by reason with their share (lost without a reason: a named row)."""
    start = sheet.week.monday
    return [
        Sheet(
            "week",
            translate(
                "report.weekly.activity",
                lang,
                week=str(sheet.week),
                start=start.isoformat(),
                end=(start + timedelta(days=6)).isoformat(),
            ),
            tuple(translate(k, lang) for k in _ACTIVITY_COLUMNS),
            _activity_rows(sheet.activity, sheet.total, lang),
        ),
        Sheet(
            "defeat-reasons",
            translate("report.weekly.defeats", lang, total=sheet.defeated),
            tuple(translate(k, lang) for k in ("report.col.defeat_reason", "report.col.count", "report.col.share")),
            tuple(
                (r.reason if r.reason is not None else translate("report.no_reason", lang), r.count, percent(r.share))
                for r in sheet.defeats
            ),
            chart_column=1,
        ),
    ]


def funnel_table(funnels: Sequence[CampaignFunnel], lang: str) -> Sheet:
    """Each campaign's funnel for the month; the chart draws how many leads it dialled."""
    return Sheet(
        "funnel",
        translate("report.funnel.title", lang),
        tuple(
            translate(k, lang)
            for k in (
                "report.col.campaign",
                "report.col.dialled",
                "report.col.answered",
                "report.col.talked",
                "report.col.invitations",
                "report.col.visits",
                "report.col.deals",
            )
        ),
        tuple((f.name, f.dialled, f.answered, f.talked, f.invited, f.visited, f.deals) for f in funnels),
        chart_column=1,
    )


def target_value(kpi: TargetKpi, value: float | None) -> str:
    """A target or the month's value in its unit: ``90.0%`` for a rate, ``30`` for a count, ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.1f}%" if kpi.is_rate else f"{value:g}"


def targets_table(targets: Sequence[TargetProgress], lang: str) -> Sheet:
    """The sales manager's targets for the month and the progress towards each; the chart draws the progress."""
    return Sheet(
        "targets",
        translate("report.target.sheet", lang),
        tuple(
            translate(k, lang)
            for k in (
                "report.target.col.kpi",
                "report.target.col.target",
                "report.target.col.actual",
                "report.target.col.progress",
            )
        ),
        tuple(
            (
                translate("report.target." + p.kpi.value, lang),
                target_value(p.kpi, p.target),
                target_value(p.kpi, p.actual),
                "-" if p.progress is None else percent(p.progress),
            )
            for p in targets
        ),
        chart_column=3,
    )
