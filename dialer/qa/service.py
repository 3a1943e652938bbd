"""QA as a service: score a registered recording, and build a month's report from the store.

Who may score is the access policy's question (:func:`dialer.domain.access.policy.can` with
``qa.score``); faces ask it before calling here, with the same user they pass as ``scorer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.kpi.metrics import Month
from dialer.domain.qa.errors import RecordingUnavailable
from dialer.domain.qa.form import QaForm
from dialer.domain.qa.report import QaReport, ScoredCall, build_report
from dialer.domain.qa.sampling import AgentSample, draw, week_of
from dialer.domain.qa.scoring import score_call
from dialer.logs import get_logger
from dialer.store.qa import QaStore
from dialer.store.recordings import RecordingStore

log = get_logger(__name__)


# A week's recordings the sample draws from: far above a dealer's calls (8 lines, ~1,000 talks a week).
_WEEK_MAX = 20_000


class QaService:
    """Scores recordings against the form and reports per agent and month (dealer's local months)."""

    def __init__(
        self, *, form: QaForm, scores: QaStore, recordings: RecordingStore, clock: Clock, timezone: str
    ) -> None:
        self.form = form
        self._scores = scores
        self._recordings = recordings
        self._clock = clock
        self._tz = ZoneInfo(timezone)

    async def score(
        self, recording_id: int, *, scorer: str, values: Mapping[str, int], comment: str = ""
    ) -> ScoredCall:
        """Score one recording; the form's rules are checked before anything is stored (:class:`ScoreError`)."""
        recording = await self._recordings.get(recording_id)
        if recording is None:
            raise RecordingUnavailable(f"recording {recording_id}: no such recording")
        card = score_call(self.form, recording.direction, values)
        stored = await self._scores.add(
            recording_id=recording_id,
            agent=recording.agent,
            scorer=scorer,
            card=card,
            comment=comment,
            at=self._clock.now(),
        )
        log.info("qa.scored", recording_id=recording_id, score_id=stored.score_id, agent=recording.agent,
                 scorer=scorer, score=card.score)  # fmt: skip
        return stored

    async def week_sample(self, per_agent: int, dealers: DealerScope = EVERY_DEALER) -> tuple[date, list[AgentSample]]:
        """This dealer-local week's sample (Monday, per agent): N calls each, the scored ones counted; of the
        recordings ``dealers`` sees."""
        monday, next_monday = week_of(self._clock.now().astimezone(self._tz).date())
        since, until = (datetime.combine(d, time(), self._tz) for d in (monday, next_monday))
        recordings = await self._recordings.search(since=since, until=until, limit=_WEEK_MAX, dealers=dealers)
        scored = {s.recording_id for s in await self._scores.between(since, until, dealers=dealers)}
        return monday, draw(((r.id, r.agent) for r in recordings), scored, per_agent, monday)

    async def scorings(self, recording_id: int) -> list[ScoredCall]:
        """Every scoring of one recording, oldest first."""
        return await self._scores.for_recording(recording_id)

    async def report(self, month: Month, agent: str | None = None, dealers: DealerScope = EVERY_DEALER) -> QaReport:
        """The month's results (scorings made in that local month of the recordings ``dealers`` sees; the
        latest per recording counts)."""
        since, until = month.bounds(self._tz)
        return build_report(str(month), await self._scores.between(since, until, agent, dealers), agent)
