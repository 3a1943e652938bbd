"""Pacing: how many calls to start right now, given the room and what has been measured.

Three modes share one input (a :class:`PacingSnapshot`) and one output (a :class:`DialDecision`):

* preview: the agent reads the lead and accepts it; then exactly one call is dialed for them;
* progressive: one call per available agent, minus calls already ringing or waiting;
* predictive: dials ahead, for agents expected to be free by the time the customer answers,
  and for the share of calls nobody answers. Its model, controller and guard are described in
  docs/pacing.md. It never does less than progressive would, and never exceeds the line cap.

The caller builds the snapshot from its own state and the one clock, calls :meth:`decide`, and
starts that many calls; nothing here waits or does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.domain.campaigns.agents import AgentRoster, AgentState
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.stats import PacingStats


class PacingMode(StrEnum):
    """The dialing modes a campaign can run in."""

    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class DialLimit(StrEnum):
    """What set the number in a decision; logged and shown on the wallboard to explain the pace."""

    AGENTS = "agents"  # the mode's own rule (agents free, previews accepted)
    LINES = "lines"  # the outbound line cap cut it
    WARMUP = "warmup"  # predictive has too little data yet and paces like progressive
    THROTTLED = "throttled"  # predictive overdial cut back by the abandonment guard


@dataclass(frozen=True, slots=True)
class DialDecision:
    """Start ``count`` calls now (never negative)."""

    count: int
    limited_by: DialLimit


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent as pacing sees it: state and since when."""

    state: AgentState
    since: datetime


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """The room at one instant, as the runner (or simulator) knows it.

    ``ringing_since`` holds the dial time of every call not yet answered or ended; ``waiting``
    counts calls a person answered that still wait for an agent; ``lines_in_use`` counts all
    outbound lines held (ringing, waiting, talking); ``preview_ready`` counts agents who accepted a
    preview and wait for its call to be started.
    """

    now: datetime
    agents: tuple[AgentView, ...]
    ringing_since: tuple[datetime, ...]
    waiting: int
    lines_in_use: int
    line_cap: int
    preview_ready: int = 0

    def __post_init__(self) -> None:
        for name in ("waiting", "lines_in_use", "line_cap", "preview_ready"):
            if getattr(self, name) < 0:
                raise CampaignError(f"pacing snapshot: {name} = {getattr(self, name)} must not be negative")

    @classmethod
    def of(
        cls,
        roster: AgentRoster,
        now: datetime,
        ringing_since: tuple[datetime, ...],
        waiting: int,
        lines_in_use: int,
        line_cap: int,
        preview_ready: int = 0,
    ) -> PacingSnapshot:
        """Build a snapshot from a live roster."""
        agents = tuple(AgentView(s.state, s.since) for s in roster)
        return cls(now, agents, ringing_since, waiting, lines_in_use, line_cap, preview_ready)

    def count(self, state: AgentState) -> int:
        """Agents in ``state``."""
        return sum(1 for a in self.agents if a.state is state)


class Pacer(Protocol):
    """Anything that turns a snapshot into a number of calls to start."""

    mode: PacingMode

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        """How many calls to start now."""
        ...


# When a call dialed now may be answered: this many evenly spaced quantiles of the measured ring-to-answer times.
ANSWER_TIMES = 8


def _within_lines(want: int, snap: PacingSnapshot, reason: DialLimit) -> DialDecision:
    free_lines = max(0, snap.line_cap - snap.lines_in_use)
    if want > free_lines:
        return DialDecision(free_lines, DialLimit.LINES)
    return DialDecision(max(0, want), reason)


def _progressive_want(snap: PacingSnapshot) -> int:
    return snap.count(AgentState.AVAILABLE) - len(snap.ringing_since) - snap.waiting


class PreviewPacer:
    """One call per accepted preview: the agent has read the lead and is ready for exactly that customer."""

    mode = PacingMode.PREVIEW

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        return _within_lines(snap.preview_ready, snap, DialLimit.AGENTS)


class ProgressivePacer:
    """One call per available agent not already covered by a ringing or waiting call: never abandons."""

    mode = PacingMode.PROGRESSIVE

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        return _within_lines(_progressive_want(snap), snap, DialLimit.AGENTS)


class PredictivePacer:
    """Dials for the agents expected to be free when the customer answers, scaled by the controller.

    A call dialed now is answered, if at all, after a ring time drawn from the measured ones; the
    agent must be free at that instant (the agent is chosen at the answer, once). So an agent counts
    P(free by the answer) = the mean over the ring-to-answer quantiles t of P(free within t), and
    E is the sum over agents. Expected answers already coming = sum over ringing calls of
    P(answer | rang so long). New calls each bring the measured answer rate a. Dial N so that
    answers in flight match gain x E: N = floor((gain x E - waiting - coming) / a). The guard's
    throttle (which counts the waiting calls as abandoned already) scales the part above what
    progressive would dial.
    """

    mode = PacingMode.PREDICTIVE

    def __init__(self, stats: PacingStats, warmup_attempts: int) -> None:
        self._stats = stats
        self._warmup = warmup_attempts

    def decide(self, snap: PacingSnapshot) -> DialDecision:
        stats = self._stats
        progressive = _progressive_want(snap)
        answer_rate = stats.answer_rate
        rings = stats.answer_ring_quantiles(ANSWER_TIMES)
        if stats.attempts < self._warmup or answer_rate <= 0 or not rings:
            return _within_lines(progressive, snap, DialLimit.WARMUP)
        now = snap.now
        free = sum(stats.free_probability(a.state, (now - a.since).total_seconds(), rings) for a in snap.agents)
        coming = sum(stats.answer_probability((now - t).total_seconds()) for t in snap.ringing_since)
        predicted = math.floor((stats.gain * free - snap.waiting - coming) / answer_rate)
        extra = max(0, predicted - progressive)
        allowed = math.floor(stats.throttle(snap.waiting) * extra)
        return _within_lines(progressive + allowed, snap, DialLimit.THROTTLED if allowed < extra else DialLimit.AGENTS)


def make_pacer(mode: PacingMode, stats: PacingStats, warmup_attempts: int) -> Pacer:
    """The pacer for ``mode``; all modes get what predictive needs so a campaign can switch mode live."""
    if mode is PacingMode.PREVIEW:
        return PreviewPacer()
    if mode is PacingMode.PROGRESSIVE:
        return ProgressivePacer()
    return PredictivePacer(stats, warmup_attempts)
