"""The month's reports as tables: KPIs with month-on-month and year-on-year, per agent, per source (web
leads per portal), defeat reasons, QA scores, the campaigns' funnels and the progress towards the month's targets. One list of tables feeds the page, the bar charts and the XLSX export,
so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from openpyxl import Workbook

from dialer.app import App
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.kpi.metrics import AgentCalls, CallNorm, KpiRules, Month, MonthlyKpis, Ratio
from dialer.domain.leads.hygiene import DefeatAnalysis
from dialer.domain.qa.report import QaReport
from dialer.domain.reports.funnel import CampaignFunnel
from dialer.domain.reports.tables import Sheet, funnel_table, targets_table
from dialer.domain.spreadsheet import as_cell
from dialer.i18n import translate
from dialer.kpi.service import funnels, monthly_kpis


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the month's report needs, gathered once."""

    month: Month
    current: MonthlyKpis
    previous: MonthlyKpis
    year_before: MonthlyKpis
    by_agent: tuple[MonthlyKpis, ...]  # one per agent with calls in the month, by name
    norms: tuple[CallNorm, CallNorm]  # outbound, inbound
    defeat: DefeatAnalysis
    qa: QaReport
    funnels: tuple[CampaignFunnel, ...]


async def gather(app: App, month: Month, dealers: DealerScope = EVERY_DEALER) -> ReportData:
    """Read the facts for ``month``, the month before and the same month a year before; of the dealers
    ``dealers`` sees."""

    async def kpis(m: Month, agent: str | None = None) -> MonthlyKpis:
        return await monthly_kpis(app.db, app.settings, app.clock, m, agent, dealers)

    rules = KpiRules.from_settings(app.settings)
    current = await kpis(month)
    agents = sorted({a.agent for a in (*current.outbound_calls, *current.inbound_calls)})
    return ReportData(
        month=month,
        current=current,
        previous=await kpis(month.previous()),
        year_before=await kpis(month.year_before()),
        by_agent=tuple([await kpis(month, agent) for agent in agents]),
        norms=(rules.outbound_norm, rules.inbound_norm),
        defeat=(await app.leads.hygiene(str(month), dealers)).defeated,
        qa=await app.qa.report(month, dealers=dealers),
        funnels=await funnels(app.db, app.settings, month, dealers),
    )


def _pct(r: Ratio) -> str:
    return "-" if r.percent is None else f"{r.percent:.1f}%"


def _calls(calls: tuple[AgentCalls, ...]) -> tuple[int, str]:
    """One agent's calls of one direction and their average per day worked (an agent's KPIs list only theirs)."""
    if not calls:
        return 0, "-"
    (mine,) = calls
    return mine.calls, "-" if mine.per_day is None else f"{mine.per_day:.1f}"


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None or before == 0:
        return "-"
    return f"{(now - before) / before * 100:+.1f}%"


def tables(data: ReportData, lang: str) -> list[Sheet]:
    """The report's tables in ``lang``."""

    def tr(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    cur, prev, yb = data.current, data.previous, data.year_before
    kpi_rows: list[tuple[object, ...]] = []
    for key, pick in (
        ("web.kpi.follow_up_rate", lambda k: k.follow_up_rate.percent),
        ("web.kpi.invite_rate", lambda k: k.invite_to_store_rate.percent),
        ("web.kpi.deals", lambda k: float(k.deals)),
        ("web.kpi.new_leads", lambda k: float(k.new_leads)),
        ("web.kpi.contacts_captured", lambda k: float(k.contacts_captured)),
    ):
        now, before, year = pick(cur), pick(prev), pick(yb)
        pattern = "{:.1f}%" if key.endswith("rate") else "{:.0f}"
        now_s, before_s, year_s = ("-" if v is None else pattern.format(v) for v in (now, before, year))
        kpi_rows.append((tr(key), now_s, before_s, year_s, _change(now, before), _change(now, year)))
    sheets = [
        Sheet(
            "kpi",
            tr("web.report.kpi"),
            tuple(
                tr(k)
                for k in (
                    "web.col.kpi",
                    "web.col.this_month",
                    "web.col.previous_month",
                    "web.col.year_before",
                    "web.col.mom",
                    "web.col.yoy",
                )
            ),
            tuple(kpi_rows),
        ),
        Sheet(
            "agents",
            tr("web.report.agents"),
            (
                tr("web.col.agent"),
                tr("web.col.outbound_calls"),
                tr("web.col.outbound_per_day", low=data.norms[0].low, high=data.norms[0].high),
                tr("web.col.inbound_calls"),
                tr("web.col.inbound_per_day", low=data.norms[1].low, high=data.norms[1].high),
                tr("web.kpi.follow_up_rate"),
                tr("web.kpi.invite_rate"),
                tr("web.kpi.deals"),
            ),
            tuple(
                (
                    k.agent,
                    *_calls(k.outbound_calls),
                    *_calls(k.inbound_calls),
                    _pct(k.follow_up_rate),
                    _pct(k.invite_to_store_rate),
                    k.deals,
                )
                for k in data.by_agent
            ),
            chart_column=1,
        ),
        Sheet(
            "sources",
            tr("web.report.sources"),
            tuple(
                tr(k)
                for k in (
                    "web.col.source",
                    "web.col.this_month",
                    "web.col.previous_month",
                    "web.col.year_before",
                    "web.col.mom",
                    "web.col.yoy",
                )
            ),
            tuple(
                (
                    tr("web.source." + s.source.value) + ("" if s.portal is None else f"·{s.portal}"),
                    s.count,
                    s.previous_month,
                    s.year_before,
                    _change(float(s.count), float(s.previous_month)),
                    _change(float(s.count), float(s.year_before)),
                )
                for s in cur.sources
            ),
            chart_column=1,
        ),
        Sheet(
            "defeat",
            tr("web.report.defeat", total=data.defeat.total),
            (tr("web.col.defeat_reason"), tr("web.col.count")),
            # Ranked already, largest first; leads lost without a reason are a row of their own, named.
            tuple((reason or tr("web.report.no_reason"), n) for reason, n in data.defeat.by_reason.items()),
            chart_column=1,
        ),
        Sheet(
            "qa",
            tr("web.report.qa"),
            tuple(
                tr(k)
                for k in ("web.col.agent", "web.col.reviewed", "web.col.average", "web.col.lowest", "web.col.highest")
            ),
            tuple(
                (
                    a.agent or tr("web.report.no_agent"),
                    a.calls,
                    f"{a.average:.1f}",
                    f"{a.lowest:.1f}",
                    f"{a.highest:.1f}",
                )
                for a in data.qa.agents
            ),
            chart_column=2,
        ),
        funnel_table(data.funnels, lang),
        targets_table(cur.targets, lang),
    ]
    return sheets


def _number(value: object) -> float:
    text = str(value).rstrip("%")
    try:
        return float(text)
    except ValueError:
        return 0.0


# Chart geometry in SVG user units: one bar per row, labels on the left.
_BAR_HEIGHT = 18
_BAR_GAP = 6
_LABEL_WIDTH = 140
_CHART_WIDTH = 480


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a chart: its top, the bar's length, the row's label and the value as shown."""

    y: int
    width: float
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart, laid out here and drawn as inline SVG by templates/reports.html
    (no script, no library)."""

    bars: tuple[Bar, ...]
    width: int = _CHART_WIDTH
    bar_height: int = _BAR_HEIGHT
    label_width: int = _LABEL_WIDTH

    @property
    def height(self) -> int:
        """The SVG's height: one bar and one gap per row."""
        return (_BAR_HEIGHT + _BAR_GAP) * len(self.bars)


def bar_chart(sheet: Sheet) -> Chart | None:
    """The chart of the sheet's chart column; None for a sheet without one or without rows."""
    if sheet.chart_column is None or not sheet.rows:
        return None
    values = [(_number(row[sheet.chart_column]), str(row[0]), str(row[sheet.chart_column])) for row in sheet.rows]
    top = max(v for v, _l, _t in values) or 1.0
    return Chart(
        tuple(
            Bar(i * (_BAR_HEIGHT + _BAR_GAP), (_CHART_WIDTH - _LABEL_WIDTH - 60) * value / top, label, text)
            for i, (value, label, text) in enumerate(values)
        )
    )


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """The tables as one workbook, a worksheet each (titles cut to Excel's 31 characters)."""
    excel_title_max = 31
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:excel_title_max])
        ws.append(list(sheet.headers))
        for row in sheet.rows:
            ws.append([as_cell(value) for value in row])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
