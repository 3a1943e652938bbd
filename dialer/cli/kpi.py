"""``dialer kpi``: the handbook's monthly KPIs for the DCC or one agent (docs/kpi.md).

Every rate is shown with its arithmetic, so a supervisor can check it against DOSS;
a rate whose denominator is zero shows as "—".
"""

from __future__ import annotations

import argparse

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, agent_scope
from dialer.cli.output import print_json, print_table
from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import AgentCalls, Month, MonthlyKpis, Ratio, SourceCount, handover_hours
from dialer.domain.reports.tables import targets_table
from dialer.i18n import translate
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.kpi.{key}", lang, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kpi", help="monthly KPIs: follow-up rate, invite-to-store rate, deals, deadlines, calls")
    p.add_argument("--month", required=True, help="YYYY-MM, dealer local time")
    p.add_argument("--agent", help="only this agent's leads and calls (with --group: CODE/AGENT)")
    p.add_argument("--json", action="store_true", help="print every count as JSON")
    add_dealer_options(p)
    p.set_defaults(handler=run)


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with open_store(cfg, args.clock) as app:
        dealers, agent = await agent_scope(app, args)
        kpis = await monthly_kpis(app.db, cfg, app.clock, month, agent=agent, dealers=dealers)
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


def _source(row: SourceCount, zh: bool) -> str:
    """The source's name; a car portal's web leads as ``网络·汽车之家``."""
    name = row.source.zh if zh else row.source.value
    return name if row.portal is None else f"{name}·{row.portal}"


def _print_calls(lang: str, calls: tuple[AgentCalls, ...]) -> None:
    """One direction's calls per agent against its norm (the title says which)."""
    if not calls:
        print(_t(lang, "none"))
        return
    count = "col.calls" if calls[0].direction is Direction.OUTBOUND else "col.inbound_calls"
    keys = ("col.agent", count, "col.days", "col.per_day", "col.below", "col.within", "col.above")
    print_table(
        [_t(lang, k) for k in keys],
        [
            (a.agent, a.calls, a.days_worked, None if a.per_day is None else f"{a.per_day:.1f}",
             a.days_below_norm, a.days_within_norm, a.days_above_norm)
            for a in calls
        ],
    )  # fmt: skip


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

    norms = cfg.kpi
    for title, norm_low, norm_high, calls in (
        ("calls.title", norms.calls_norm_min, norms.calls_norm_max, kpis.outbound_calls),
        ("inbound.title", norms.inbound_norm_min, norms.inbound_norm_max, kpis.inbound_calls),
    ):
        print()
        print(_t(lang, title, low=norm_low, high=norm_high))
        _print_calls(lang, calls)

    if kpis.targets:
        print()
        targets = targets_table(kpis.targets, lang)
        print(targets.title)
        print_table(targets.headers, targets.rows)

    print()
    print(_t(lang, "sources.title"))
    if kpis.sources:
        keys: tuple[str, ...] = ("col.source", "col.count", "col.previous", "col.mom", "col.year_before", "col.yoy")
        print_table(
            [_t(lang, k) for k in keys],
            [
                (_source(s, zh), s.count, s.previous_month, _change(s.month_on_month),
                 s.year_before, _change(s.year_on_year))
                for s in kpis.sources
            ],
        )  # fmt: skip
    else:
        print(_t(lang, "none"))
