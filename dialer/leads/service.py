"""The leads service: what the faces (CLI, web) ask of leads, wired from config, store and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dialer.clock import Clock
from dialer.leads.deadlines import DueRules
from dialer.leads.hygiene import HygieneReport, build_report, month_bounds, months_back
from dialer.leads.importer import LeadImporter
from dialer.leads.model import Lead
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.leads import LeadStore


class DueScope(StrEnum):
    """Which deadlines ``due`` lists."""

    OVERDUE = "overdue"  # already past
    TODAY = "today"  # by the end of the dealer's local day (the default work list)
    ALL = "all"  # every scheduled deadline


@dataclass(frozen=True, slots=True)
class DueItem:
    """A lead on the due list, and whether its deadline has passed."""

    lead: Lead
    overdue: bool


class LeadService:
    """Import, due lists and the monthly hygiene report over one store."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.tz = ZoneInfo(settings.dealer.timezone)
        self._settings = settings.leads
        self._clock = clock
        self.store = LeadStore(db, DueRules(settings.leads, self.tz), clock)
        self.importer = LeadImporter(
            self.store, clock, region=settings.dealer.region, tz=self.tz, progress_rows=settings.leads.import_progress_rows
        )

    async def due(self, scope: DueScope = DueScope.TODAY, owner: str | None = None) -> list[DueItem]:
        """The due list, earliest deadline first."""
        now = self._clock.now()
        if scope is DueScope.OVERDUE:
            until: datetime | None = now - timedelta(microseconds=1)
        elif scope is DueScope.TODAY:
            local_today = now.astimezone(self.tz).date()
            until = datetime.combine(local_today + timedelta(days=1), time(), self.tz) - timedelta(microseconds=1)
        else:
            until = None
        leads = await self.store.due(until, owner=owner)
        return [DueItem(lead, lead.due_at is not None and lead.due_at < now) for lead in leads]

    async def hygiene(self, month: str) -> HygieneReport:
        """The clean-up report for ``YYYY-MM`` (dealer local months)."""
        start, end = month_bounds(month, self.tz)
        trend_start, _ = month_bounds(months_back(month, self._settings.hygiene_trend_months)[0], self.tz)
        facts = await self.store.hygiene_facts(start, end, trend_start)
        return build_report(month, self.tz, facts, self._settings.hygiene_trend_months)
