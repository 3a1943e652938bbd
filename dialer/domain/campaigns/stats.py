"""What pacing has learned from finished attempts and agent moves.

Predictive pacing needs three kinds of knowledge, all measured, none assumed:

* how likely a dialed number is to reach a person, and how long it rings first (recent attempts);
* how long talks and wrap-ups last, as distributions, so an agent 80 s into a call can be
  given a probability of being free within the next few seconds (recent durations);
* how many answered calls were abandoned today and over the rolling 30 days (the law): counted
  as calls end, on top of the days before the start that the runner reads from the store
  (``history``), by :func:`abandon_tallies`, which the wallboard uses too.

From the last it derives the *throttle* (how much of the predictive overdial is allowed right now)
and keeps the controller's *gain*; docs/pacing.md explains both. Time comes from the clock
handed in; days are the dealer's local days.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from dialer.clock import Clock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentState, Transition
from dialer.settings import PacingDefaults

# Attempts our own side failed (line limit, PBX trouble) or lost sight of say nothing about customers.
_NOT_ABOUT_CUSTOMERS = frozenset({Outcome.FAILED, Outcome.UNKNOWN})


@dataclass(frozen=True, slots=True)
class AbandonTally:
    """Answered (a person picked up) and abandoned calls over some period."""

    answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        """Abandoned share of answered calls; 0 when nothing was answered yet."""
        return self.abandoned / self.answered if self.answered else 0.0


class AbandonmentHistory(Protocol):
    """Where the answered and abandoned calls of past days are kept (the attempts' store)."""

    async def abandonment_by_day(
        self, since: datetime, tz: tzinfo, campaign_id: int | None = None
    ) -> dict[date, AbandonTally]:
        """Per local day of ``tz``, the outbound calls ended since ``since`` that a person answered
        and those abandoned (one campaign's, or every outbound call's with None)."""
        ...


def window_start(today: date, rolling_days: int) -> date:
    """The first local day of the rolling window that ends with ``today`` (today counts as one)."""
    return today - timedelta(days=rolling_days - 1)


def window_since(now: datetime, tz: tzinfo, rolling_days: int) -> datetime:
    """The instant the rolling window that holds ``now`` starts: local midnight of its first day."""
    return datetime.combine(window_start(now.astimezone(tz).date(), rolling_days), time(), tz)


def abandon_tallies(
    days: Mapping[date, AbandonTally], today: date, rolling_days: int
) -> tuple[AbandonTally, AbandonTally]:
    """Today's tally and the rolling window's: the one definition the guard and the wallboard share.

    Abandonment = abandoned ÷ outbound calls a person answered (answered, early hang-up, abandoned),
    counted per local day; the window is today and the ``rolling_days - 1`` days before it."""
    oldest = window_start(today, rolling_days)
    kept = [tally for day, tally in days.items() if oldest <= day <= today]
    return days.get(today, AbandonTally(0, 0)), AbandonTally(
        sum(t.answered for t in kept), sum(t.abandoned for t in kept)
    )


class RecentSamples:
    """The last ``size`` values of a duration, kept sorted so conditional questions are cheap.

    "Given this call has lasted e seconds, how likely does it end within h more?" is answered
    from the samples themselves, so no distribution shape is assumed.
    """

    __slots__ = ("_order", "_sorted", "_sum")

    def __init__(self, size: int) -> None:
        self._order: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._sum = 0.0

    def __len__(self) -> int:
        return len(self._order)

    def add(self, value: float) -> None:
        """Remember ``value``, forgetting the oldest sample when full."""
        if len(self._order) == self._order.maxlen:
            old = self._order[0]
            del self._sorted[bisect_right(self._sorted, old) - 1]
            self._sum -= old
        self._order.append(value)
        insort(self._sorted, value)
        self._sum += value

    @property
    def mean(self) -> float:
        """Average of the samples; 0 without any."""
        return self._sum / len(self._order) if self._order else 0.0

    def quantiles(self, k: int) -> tuple[float, ...]:
        """``k`` evenly spaced quantiles (the middle of each k-th of the samples); empty without samples."""
        n = len(self._sorted)
        return tuple(self._sorted[int((i + 0.5) * n / k)] for i in range(k)) if n else ()

    def count_above(self, threshold: float) -> int:
        """How many samples exceed ``threshold``."""
        return len(self._sorted) - bisect_right(self._sorted, threshold)

    def ends_within(self, elapsed: float, mores: Sequence[float]) -> float:
        """The mean over ``mores`` of P(value <= elapsed + more | value > elapsed); 0 when no sample
        lasted that long (unknown ground)."""
        survivors = self.count_above(elapsed)
        if survivors == 0 or not mores:
            return 0.0
        ended = sum(survivors - self.count_above(elapsed + more) for more in mores if more > 0)
        return ended / (survivors * len(mores))


class PacingStats:
    """Rolling measurements and the abandonment controller, updated from outcome and agent events."""

    def __init__(
        self,
        settings: PacingDefaults,
        clock: Clock,
        timezone: str,
        history: Mapping[date, AbandonTally] | None = None,
    ) -> None:
        """``history``: the answered and abandoned calls of the window's days before this start (read
        from the store by the runner), so a restarted runner guards like one that never stopped."""
        self._settings = settings
        self._clock = clock
        self._tz = ZoneInfo(timezone)
        size = settings.sample_size
        self._person_rings = RecentSamples(size)  # ring time of attempts a person answered
        self._other_rings = RecentSamples(size)  # ring time of attempts that ended any other way
        self._ring_outcomes: deque[bool] = deque(maxlen=size)  # True: reached a person, oldest first
        self._talks = RecentSamples(size)
        self._wrap_ups = RecentSamples(size)
        # local day -> [answered, abandoned]
        self._days: dict[date, list[int]] = {d: [t.answered, t.abandoned] for d, t in (history or {}).items()}
        self._attempts = 0
        self._gain = settings.gain_start
        # Up-step chosen so that the gain stands still exactly when the abandon share equals the target.
        target = settings.max_abandon_rate - settings.abandon_margin
        self._step_down = settings.gain_step_down
        self._step_up = settings.gain_step_down * target / (1.0 - target)

    # --- events -------------------------------------------------------------------------------

    def observe_attempt(self, outcome: Outcome, ring_s: float) -> None:
        """An attempt ended: ``ring_s`` is the time from dial until answer or failure."""
        if ring_s < 0:
            raise ValueError(f"attempt ended {outcome.value} with negative ring time {ring_s}")
        self._attempts += 1
        if outcome not in _NOT_ABOUT_CUSTOMERS:
            reached = outcome.reached_person
            self._ring_outcomes.append(reached)
            (self._person_rings if reached else self._other_rings).add(ring_s)
        if outcome.reached_person:
            self._count_answered(outcome is Outcome.ABANDONED)

    def observe_transition(self, moved: Transition) -> None:
        """An agent moved: finished talks and wrap-ups become duration samples."""
        if moved.before is AgentState.ON_CALL:
            self._talks.add(moved.held_s)
        elif moved.before is AgentState.WRAP_UP:
            self._wrap_ups.add(moved.held_s)

    def _count_answered(self, abandoned: bool) -> None:
        throttle = self.throttle()  # before counting this call: the state it was (about) dialed under
        today = self._today()
        bucket = self._days.setdefault(today, [0, 0])
        bucket[0] += 1
        if abandoned:
            bucket[1] += 1
            self._gain *= math.exp(-self._step_down)
        else:
            # Calls placed while throttled to progressive say nothing about the overdial; do not learn from them.
            self._gain *= math.exp(self._step_up * throttle)
        self._gain = min(max(self._gain, self._settings.gain_min), self._settings.gain_max)
        oldest = window_start(today, self._settings.rolling_days)
        for day in [d for d in self._days if d < oldest]:
            del self._days[day]

    def _today(self) -> date:
        return self._clock.now().astimezone(self._tz).date()

    # --- what pacing reads ----------------------------------------------------------------------

    @property
    def attempts(self) -> int:
        """Attempts observed since start (all outcomes)."""
        return self._attempts

    @property
    def answer_rate(self) -> float:
        """Share of recent customer-side attempts a person answered."""
        n = len(self._ring_outcomes)
        return sum(self._ring_outcomes) / n if n else 0.0

    @property
    def mean_answer_ring_s(self) -> float:
        """How long a call rings, on average, before a person answers."""
        return self._person_rings.mean

    def answer_ring_quantiles(self, k: int) -> tuple[float, ...]:
        """How long a call rings before a person answers, as ``k`` evenly spaced quantiles of the recent ones."""
        return self._person_rings.quantiles(k)

    def answer_probability(self, rang_s: float) -> float:
        """P(a person answers | the call has rung ``rang_s`` seconds without ending)."""
        answered_later = self._person_rings.count_above(rang_s)
        ended_later = answered_later + self._other_rings.count_above(rang_s)
        return answered_later / ended_later if ended_later else 0.0

    @property
    def mean_wrap_up_s(self) -> float:
        """Average wrap-up length."""
        return self._wrap_ups.mean

    def free_probability(self, state: AgentState, elapsed_s: float, horizons_s: Sequence[float]) -> float:
        """The mean over ``horizons_s`` of P(an agent ``elapsed_s`` into ``state`` is available within it).

        A talking agent still has the rest of the talk and a whole wrap-up ahead, so the wrap-up's
        average is taken off each horizon before asking the talk distribution.
        """
        if state is AgentState.AVAILABLE:
            return 1.0
        if state is AgentState.WRAP_UP:
            return self._wrap_ups.ends_within(elapsed_s, horizons_s)
        if state is AgentState.ON_CALL:
            wrap_up = self._wrap_ups.mean
            return self._talks.ends_within(elapsed_s, [h - wrap_up for h in horizons_s])
        return 0.0

    def tally_today(self) -> AbandonTally:
        """Answered and abandoned calls of the current local day."""
        return self._tallies()[0]

    def tally_rolling(self) -> AbandonTally:
        """Answered and abandoned calls over the rolling window (today included)."""
        return self._tallies()[1]

    def _tallies(self) -> tuple[AbandonTally, AbandonTally]:
        days = {d: AbandonTally(v[0], v[1]) for d, v in self._days.items()}
        return abandon_tallies(days, self._today(), self._settings.rolling_days)

    def throttle(self, waiting: int = 0) -> float:
        """Share of the predictive overdial allowed now, 1 (all) down to 0 (plain progressive).

        Judged pessimistically: the rate each period would show if the ``waiting`` calls (a person
        answered, no agent took them: they will be abandoned, only not yet counted) and the very
        next answered call were abandoned. Full overdial while that stays a whole ``throttle_band``
        under the limit, none once it would reach the limit, linear in between; the stricter
        period wins.
        """
        limit, band = self._settings.max_abandon_rate, self._settings.throttle_band
        allowed = 1.0
        for tally in (self.tally_today(), self.tally_rolling()):
            pessimistic = (tally.abandoned + waiting + 1) / (tally.answered + waiting + 1)
            allowed = min(allowed, (limit - pessimistic) / band)
        return min(max(allowed, 0.0), 1.0)

    @property
    def gain(self) -> float:
        """The controller's output: expected answers wanted per expected free agent."""
        return self._gain
