"""The KPI report for one month: the store's facts through the pure maths, with the dealer's rules."""

from __future__ import annotations

from dialer.clock import Clock
from dialer.domain.kpi.metrics import KpiRules, Month, MonthlyKpis, compute
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.kpi import kpi_input


async def monthly_kpis(
    db: Database, settings: Settings, clock: Clock, month: Month, agent: str | None = None
) -> MonthlyKpis:
    """The KPIs of ``month`` (dealer local time) for the whole DCC or one agent, as of ``clock.now()``."""
    rules = KpiRules.from_settings(settings)
    start, end = month.bounds(rules.tz)
    data = await kpi_input(db, calls_from=start, until=end)
    return compute(month, data, rules, clock.now(), agent=agent)
