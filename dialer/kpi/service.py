"""The KPI report for one month, the daily and weekly sheets, the campaigns' funnels: the store's facts through the pure maths,
with the dealer's rules."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.kpi.metrics import KpiRules, Month, MonthlyKpis, compute
from dialer.domain.kpi.targets import TargetKpi, progress
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.reports.funnel import CampaignFunnel, campaign_funnels
from dialer.domain.reports.sheets import DailySheet, Week, WeeklySheet, daily_sheet, local_midnight, weekly_sheet
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.kpi import agenda_facts, campaign_calls, kpi_input
from dialer.store.kpi_targets import set_target as store_set_target
from dialer.store.kpi_targets import targets_of
from dialer.store.leads import LeadStore


async def monthly_kpis(
    db: Database,
    settings: Settings,
    clock: Clock,
    month: Month,
    agent: str | None = None,
    dealers: DealerScope = EVERY_DEALER,
) -> MonthlyKpis:
    """The KPIs of ``month`` (dealer local time) for the whole DCC or one agent, as of ``clock.now()``; of one
    dealer or of the group (``dealers``: every count is the sum of the dealers')."""
    rules = KpiRules.from_settings(settings)
    start, end = month.bounds(rules.tz)
    data = await kpi_input(db, calls_from=start, until=end, dealers=dealers)
    kpis = compute(month, data, rules, clock.now(), agent=agent)
    if agent is not None:
        return kpis  # the targets are the whole DCC's
    dealer_id = dealers.dealer_id
    if dealer_id is None:
        # Targets are set per dealer: a group's figures have none, a store of one dealer has that dealer's.
        group = await DealerStore(db).all()
        dealer_id = group[0].id if len(group) == 1 else None
    targets = {} if dealer_id is None else await targets_of(db, month, dealer_id)
    return dataclasses.replace(kpis, targets=progress(kpis, targets))


async def set_target(
    db: Database, clock: Clock, month: Month, kpi: TargetKpi, target: float | None, actor: str, dealer_id: int
) -> None:
    """The sales manager sets (None: clears) one KPI's target of ``dealer_id`` for ``month``; the face audits it."""
    await store_set_target(db, month, kpi, target, clock.now(), actor, dealer_id)


def today(settings: Settings, clock: Clock) -> date:
    """The dealer's local date now."""
    return clock.now().astimezone(ZoneInfo(settings.dealer.timezone)).date()


async def daily(
    db: Database, settings: Settings, clock: Clock, day: date | None = None, dealers: DealerScope = EVERY_DEALER
) -> DailySheet:
    """The morning meeting's sheet for ``day`` (default today): the day before, and the day ahead if it is today."""
    tz = ZoneInfo(settings.dealer.timezone)
    now = clock.now()
    day = day or today(settings, clock)
    start, end = local_midnight(day - timedelta(days=1), tz), local_midnight(day, tz)
    data = await kpi_input(db, calls_from=start, until=end, dealers=dealers)
    facts = None
    if day == today(settings, clock):
        # The due list as the desk shows it: a visit reminder that never went is first turned into its no-show call.
        await LeadStore(db, DueRules(settings.leads, tz), clock).refresh_due()
        facts = await agenda_facts(db, end, local_midnight(day + timedelta(days=1), tz), dealers)
    return daily_sheet(day, data, tz, now, facts)


async def weekly(
    db: Database, settings: Settings, clock: Clock, week: Week | None = None, dealers: DealerScope = EVERY_DEALER
) -> WeeklySheet:
    """The weekly review of ``week`` (default: the last full week)."""
    tz = ZoneInfo(settings.dealer.timezone)
    week = week or Week.containing(today(settings, clock)).previous()
    start, end = week.bounds(tz)
    return weekly_sheet(week, await kpi_input(db, calls_from=start, until=end, dealers=dealers), tz)


async def funnels(
    db: Database, settings: Settings, month: Month, dealers: DealerScope = EVERY_DEALER
) -> tuple[CampaignFunnel, ...]:
    """Each campaign's funnel for ``month`` (dealer local time), bounded by the month's end."""
    start, end = month.bounds(ZoneInfo(settings.dealer.timezone))
    calls, names = await campaign_calls(db, start, end, dealers)
    data = await kpi_input(db, calls_from=end, until=end, dealers=dealers)  # the lead's states; no calls needed
    return campaign_funnels(calls, data.states, names, start, end)
