"""Two reference pacers from other dialers, for the pacing bench only (never a product mode).

They run in the simulator on the same model, the same measurements and the same engine as ours, so
their occupancy can be read side by side with our predictive mode's:

* **fixed dial ratio** (VICIdial's ``auto_dial_level``): keep ``ratio`` x the agents ready or
  talking worth of calls up, counting every call this campaign holds (ringing, waiting, talking).
  An agent writing up their disposition is not counted (VICIdial's agent is paused on the
  disposition screen). No model and no guard: the ratio is tuned by hand; the bench tries several
  and keeps the best whose worst seed stayed within the limit. A ratio of 1 is progressive.
* **look-ahead** (Issabel's predictive dialer): an agent counts as free when available, or when the
  measured durations make them more likely than not to be free within the mean ring-to-answer
  time; calls are dialed so that ``commit`` x those agents, over the measured answer rate, are
  ringing or waiting. No controller and no guard: ``commit`` is the knob the bench tunes.

Neither does less than progressive, nor more than the free lines (like every pacer of the product).
"""

from __future__ import annotations

import math

from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.pacing import DialDecision, DialLimit, PacingMode, PacingSnapshot
from dialer.domain.campaigns.stats import PacingStats

_WORKING = (AgentState.AVAILABLE, AgentState.ON_CALL)
# An agent counts as soon free when at least this likely to be free within the mean ring time.
SOON_FREE = 0.5


def _decision(want: int, snap: PacingSnapshot) -> DialDecision:
    progressive = snap.count(AgentState.AVAILABLE) - len(snap.ringing_since) - snap.waiting
    free_lines = max(0, snap.line_cap - snap.lines_in_use)
    want = max(want, progressive, 0)
    if want > free_lines:
        return DialDecision(free_lines, DialLimit.LINES)
    return DialDecision(want, DialLimit.AGENTS)


class FixedRatioPacer:
    """VICIdial-style: calls up = floor(ratio x working agents), whatever has been measured."""

    mode = PacingMode.PREDICTIVE

    def __init__(self, ratio: float) -> None:
        self._ratio = ratio

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        working = sum(snap.count(state) for state in _WORKING)
        held = len(snap.ringing_since) + snap.waiting + snap.count(AgentState.ON_CALL)
        return _decision(math.floor(self._ratio * working) - held, snap)


class LookAheadPacer:
    """Issabel-style: agents free now or likely free within the mean ring time, x commit, over the answer rate."""

    mode = PacingMode.PREDICTIVE

    def __init__(self, stats: PacingStats, commit: float, warmup_attempts: int) -> None:
        self._stats = stats
        self._commit = commit
        self._warmup = warmup_attempts

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        stats = self._stats
        rate = stats.answer_rate
        if stats.attempts < self._warmup or rate <= 0:
            return _decision(0, snap)  # progressive until measured
        horizon = stats.mean_answer_ring_s
        soon = sum(
            1
            for a in snap.agents
            if stats.free_probability(a.state, (snap.now - a.since).total_seconds(), (horizon,)) >= SOON_FREE
        )
        return _decision(math.floor((self._commit * soon - snap.waiting) / rate) - len(snap.ringing_since), snap)
