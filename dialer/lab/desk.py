"""Simulated agents at the desk: they file a disposition after each talk, as real agents would.

The lab's agents are SIPp phones that answer and play audio; nobody types a result. For the
demo and the campaign drills this desk plays the agents' part: after a short wrap-up it picks
an outcome of the conversation (a seeded draw, so a run can be repeated) and submits it through
the runner exactly as the web desk does.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.campaigns.runner import CampaignRunner, WrapUp
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.leads.model import IntentLevel

# How the simulated conversations end, with their weights.
_RESULTS: tuple[tuple[Disposition, int], ...] = (
    (Disposition.BOOKED_VISIT, 3),
    (Disposition.INTERESTED_FOLLOW_UP, 3),
    (Disposition.CALLBACK, 2),
    (Disposition.REFUSED, 2),
)


class SimulatedDesk:
    """Files one disposition per finished talk, ``wrap_up_s`` after it ended."""

    def __init__(self, timezone: str, *, seed: int = 1, wrap_up_s: float = 0.5) -> None:
        self._tz = ZoneInfo(timezone)
        self._rng = random.Random(seed)
        self._wrap_up_s = wrap_up_s
        self.filed: list[tuple[str, Disposition]] = []
        # Leads whose customers did not come to a booked visit: called again, they book a new time (改约).
        self.no_shows: set[int] = set()

    async def __call__(self, runner: CampaignRunner, wrap: WrapUp) -> None:
        await asyncio.sleep(self._wrap_up_s)
        now = runner.clock.now()
        form = self.rescheduled(now) if wrap.lead_id in self.no_shows else self.form(now)
        await runner.submit_disposition(wrap.agent, form)
        self.filed.append((wrap.agent, form.disposition))

    def rescheduled(self, now: datetime) -> DispositionForm:
        """The customer who did not come books a new visit, the day after tomorrow at 15:00."""
        local = now.astimezone(self._tz)
        again = datetime.combine(local.date() + timedelta(days=2), time(15, 0), self._tz)
        return DispositionForm(Disposition.RESCHEDULED, visit_at=again, note="客户临时有事，改约")

    def form(self, now: datetime) -> DispositionForm:
        """A complete form for a randomly chosen conversation result."""
        disposition = self._rng.choices([d for d, _ in _RESULTS], [w for _, w in _RESULTS])[0]
        local = now.astimezone(self._tz)
        in_two_days = datetime.combine(local.date() + timedelta(days=2), time(15, 0), self._tz)
        tomorrow = datetime.combine(local.date() + timedelta(days=1), time(10, 30), self._tz)
        match disposition:
            case Disposition.BOOKED_VISIT:
                return DispositionForm(
                    disposition, visit_at=in_two_days, purpose=FollowUpPurpose.TEST_DRIVE, note="客户周末到店试驾"
                )
            case Disposition.INTERESTED_FOLLOW_UP:
                return DispositionForm(
                    disposition, next_follow_up_at=in_two_days, intent=IntentLevel.A, purpose=FollowUpPurpose.EVENT
                )
            case Disposition.CALLBACK:
                return DispositionForm(
                    disposition,
                    next_follow_up_at=tomorrow,
                    purpose=FollowUpPurpose.OTHER,
                    note="客户开会，明天上午回电",
                )
            case _:
                # Refused this time: send the brochure, call again in a week.
                return DispositionForm(
                    disposition, next_follow_up_at=in_two_days + timedelta(days=5), purpose=FollowUpPurpose.MAILING
                )
