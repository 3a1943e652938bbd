"""``dialer kpi``: the handbook's monthly KPIs for the DCC or one agent (docs/kpi.md).

Every rate is shown with its arithmetic, so a supervisor can check it against DOSS;
a rate whose denominator is zero shows as "—".
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.kpi.metrics import Month, MonthlyKpis, Ratio, handover_hours
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings

_TEXT: Mapping[str, Mapping[str, str]] = {
    "zh-CN": {
        "title": "{month} KPI（{who}）",
        "everyone": "全部坐席",
        "agent": "坐席：{agent}",
        "col.kpi": "指标",
        "col.value": "数值",
        "col.how": "计算",
        "follow_up_rate": "电话跟进率",
        "follow_up_how": "首次电话跟进 {n} ÷（上月留存未跟进 {carried} + 本月新增 {new}）",
        "invite_rate": "邀约到店率",
        "invite_how": "首次邀约到店 {n} ÷ 首次跟进 {d}",
        "deals": "成交量",
        "hq_deadline": "总部线索 {hours} 小时内首次跟进",
        "handover_deadline": "移交线索 {hours} 小时内首次跟进",
        "deadline_how": "按时 {n} ÷ 已到期 {d}",
        "captured": "留资量",
        "calls.title": "坐席日呼出量（标准 {low}-{high} 通/天）",
        "col.agent": "坐席",
        "col.calls": "呼出总数",
        "col.days": "工作天数",
        "col.per_day": "日均",
        "col.below": "低于标准天数",
        "col.within": "达标天数",
        "col.above": "超出标准天数",
        "sources.title": "各来源新增线索",
        "col.source": "来源",
        "col.count": "本月",
        "col.previous": "上月",
        "col.mom": "环比",
        "col.year_before": "去年同月",
        "col.yoy": "同比",
        "none": "本月无数据。",
    },
    "en": {
        "title": "KPIs {month} ({who})",
        "everyone": "whole DCC",
        "agent": "agent: {agent}",
        "col.kpi": "KPI",
        "col.value": "value",
        "col.how": "arithmetic",
        "follow_up_rate": "follow-up rate",
        "follow_up_how": "first phone follow-ups {n} / (carried over {carried} + new {new})",
        "invite_rate": "invite-to-store rate",
        "invite_how": "first-invitation visits {n} / first follow-ups {d}",
        "deals": "deals",
        "hq_deadline": "HQ leads followed up within {hours} h",
        "handover_deadline": "handed-over leads followed up within {hours} h",
        "deadline_how": "on time {n} / due {d}",
        "captured": "contacts captured",
        "calls.title": "calls per agent per day (norm {low}-{high})",
        "col.agent": "agent",
        "col.calls": "calls",
        "col.days": "days worked",
        "col.per_day": "per day",
        "col.below": "days below norm",
        "col.within": "days within norm",
        "col.above": "days above norm",
        "sources.title": "new leads per source",
        "col.source": "source",
        "col.count": "this month",
        "col.previous": "last month",
        "col.mom": "MoM",
        "col.year_before": "a year ago",
        "col.yoy": "YoY",
        "none": "No data this month.",
    },
}


def _t(lang: str, key: str, **params: object) -> str:
    text = _TEXT.get(lang, _TEXT["en"])[key]
    return text.format(**params) if params else text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kpi", help="monthly KPIs: follow-up rate, invite-to-store rate, deals, deadlines, calls")
    p.add_argument("--month", required=True, help="YYYY-MM, dealer local time")
    p.add_argument("--agent", help="only this agent's leads and calls")
    p.add_argument("--json", action="store_true", help="print every count as JSON")
    p.set_defaults(handler=run)


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with open_store(cfg, args.clock) as app:
        kpis = await monthly_kpis(app.db, cfg, app.clock, month, agent=args.agent)
    if args.json:
        print_json(kpis.to_json())
    else:
        print_report(kpis, cfg)
    return 0


def _percent(ratio: Ratio) -> str | None:
    value = ratio.percent
    return None if value is None else f"{value:.1f}%"


def _change(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:+.1f}%"


def _hours(hours: float | None) -> str:
    return "—" if hours is None else f"{hours:g}"


def print_report(kpis: MonthlyKpis, cfg: Settings) -> None:
    """The report as tables; the zh-CN wording unless ui.language is en."""
    lang = cfg.ui.language
    zh = lang != "en"
    hours = cfg.leads.first_follow_up_hours
    who = _t(lang, "everyone") if kpis.agent is None else _t(lang, "agent", agent=kpis.agent)
    print(_t(lang, "title", month=kpis.month, who=who))
    fr, ir = kpis.follow_up_rate, kpis.invite_to_store_rate
    rows = [
        (_t(lang, "follow_up_rate"), _percent(fr),
         _t(lang, "follow_up_how", n=fr.numerator, carried=kpis.carried_over, new=kpis.new_leads)),
        (_t(lang, "invite_rate"), _percent(ir), _t(lang, "invite_how", n=ir.numerator, d=ir.denominator)),
        (_t(lang, "deals"), kpis.deals, None),
        (_t(lang, "hq_deadline", hours=_hours(hours.hq)), _percent(kpis.hq_deadline),
         _t(lang, "deadline_how", n=kpis.hq_deadline.numerator, d=kpis.hq_deadline.denominator)),
        (_t(lang, "handover_deadline", hours=_hours(handover_hours(hours))), _percent(kpis.handover_deadline),
         _t(lang, "deadline_how", n=kpis.handover_deadline.numerator, d=kpis.handover_deadline.denominator)),
        (_t(lang, "captured"), kpis.contacts_captured, None),
    ]  # fmt: skip
    print_table([_t(lang, "col.kpi"), _t(lang, "col.value"), _t(lang, "col.how")], rows)

    print()
    print(_t(lang, "calls.title", low=cfg.kpi.calls_norm_min, high=cfg.kpi.calls_norm_max))
    if kpis.calls:
        keys: tuple[str, ...] = (
            "col.agent",
            "col.calls",
            "col.days",
            "col.per_day",
            "col.below",
            "col.within",
            "col.above",
        )
        print_table(
            [_t(lang, k) for k in keys],
            [
                (a.agent, a.calls, a.days_worked, None if a.per_day is None else f"{a.per_day:.1f}",
                 a.days_below_norm, a.days_within_norm, a.days_above_norm)
                for a in kpis.calls
            ],
        )  # fmt: skip
    else:
        print(_t(lang, "none"))

    print()
    print(_t(lang, "sources.title"))
    if kpis.sources:
        keys = ("col.source", "col.count", "col.previous", "col.mom", "col.year_before", "col.yoy")
        print_table(
            [_t(lang, k) for k in keys],
            [
                (s.source.zh if zh else s.source.value, s.count, s.previous_month, _change(s.month_on_month),
                 s.year_before, _change(s.year_on_year))
                for s in kpis.sources
            ],
        )  # fmt: skip
    else:
        print(_t(lang, "none"))
