"""The campaign engine: everything a running campaign decides, with no I/O.

The live runner (``dialer.campaigns.runner``) and the pacing simulator (``dialer.sim``) both drive
this one object, so the simulation proves the code that dials. They feed it what happened (an agent
moved, a call was placed, answered or ended, a preview was accepted) and the time from their clock,
and it answers the two questions a campaign asks: how many calls to start now (:meth:`plan`) and
which agent takes a call a customer just answered (:meth:`answered`).

The rule for an answered call is the product's: an agent is chosen at the moment of answer (the
owner when free, else the longest idle; an accepted preview's own agent, or nobody). A call no
agent could take waits, counted by pacing, until it ends (the PBX plays the abandon message after
``calls.abandon_after_s``); an agent who frees up meanwhile does not take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentRoster, AgentState, Transition
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.pacing import Pacer, PacingMode, PacingSnapshot
from dialer.domain.campaigns.stats import PacingStats


@dataclass(frozen=True, slots=True)
class DialPlan:
    """Start ``count`` calls now; in preview mode each is the accepted lead of one of ``for_agents``."""

    count: int
    for_agents: tuple[str, ...] = ()


@dataclass(slots=True)
class _Call:
    placed_at: datetime
    reserved_for: str | None  # the preview agent this call was dialled for
    answered_at: datetime | None = None
    agent: str | None = None  # who took it at answer


class CampaignEngine:
    """One campaign's room and calls, and the pacing and agent decisions made from them."""

    def __init__(self, mode: PacingMode, roster: AgentRoster, stats: PacingStats, pacer: Pacer) -> None:
        if pacer.mode is not mode:
            raise CampaignError(f"the pacer runs {pacer.mode.value}, the campaign {mode.value}")
        self.mode = mode
        self.roster = roster
        self._stats = stats
        self._pacer = pacer
        self._calls: dict[str, _Call] = {}
        self._ready: list[str] = []  # preview agents who accepted, in order, waiting for a line

    @property
    def stats(self) -> PacingStats:
        """What pacing has measured, the abandonment guard's counts among them (read-only use)."""
        return self._stats

    # -- agents ------------------------------------------------------------------------------

    def observe(self, moved: Transition) -> Transition:
        """An agent moved (presence, a call, a disposition): pacing learns its talk and wrap-up times."""
        self._stats.observe_transition(moved)
        if moved.after is not AgentState.AVAILABLE and moved.agent_id in self._ready:
            self._ready.remove(moved.agent_id)  # an accepted preview of an agent who left is not dialled
        return moved

    def tick(self, now: datetime) -> list[Transition]:
        """Wrap-ups that ran out of time end now; returns those moves (already observed)."""
        return [self.observe(moved) for moved in self.roster.tick(now)]

    def disposition(self, agent: str, now: datetime) -> Transition | None:
        """The agent filed the result of their last call: their wrap-up ends (None when it already had)."""
        session = self.roster.get(agent)
        if session.state is not AgentState.WRAP_UP:
            return None
        return self.observe(session.submit_disposition(now))

    # -- preview -----------------------------------------------------------------------------

    def accept(self, agent: str) -> None:
        """A preview agent read the lead and is ready: their call starts when pacing gives a line."""
        if self.mode is not PacingMode.PREVIEW:
            raise CampaignError(f"agent {agent}: only a preview campaign has previews to accept")
        if agent not in self._ready:
            self._ready.append(agent)

    def withdraw(self, agent: str) -> None:
        """An accepted preview will not be dialled after all (the campaign stopped)."""
        if agent in self._ready:
            self._ready.remove(agent)

    def ready(self) -> tuple[str, ...]:
        """Preview agents who accepted and wait for their call, oldest first."""
        return tuple(self._ready)

    # -- the decisions -----------------------------------------------------------------------

    def plan(self, now: datetime, lines_in_use: int, line_cap: int) -> DialPlan:
        """How many calls to start now. ``lines_in_use`` counts every outbound line held on the PBX
        (other campaigns' calls too), ``line_cap`` what this campaign may use."""
        snapshot = PacingSnapshot.of(
            self.roster,
            now,
            ringing_since=tuple(c.placed_at for c in self._calls.values() if c.answered_at is None),
            waiting=sum(1 for c in self._calls.values() if c.answered_at is not None and c.agent is None),
            lines_in_use=lines_in_use,
            line_cap=line_cap,
            preview_ready=len(self._ready),
        )
        count = max(0, self._pacer.decide(snapshot).count)
        if self.mode is not PacingMode.PREVIEW:
            return DialPlan(count)
        agents = tuple(self._ready[:count])
        del self._ready[: len(agents)]
        return DialPlan(len(agents), agents)

    def placed(self, call_id: str, now: datetime, agent: str | None = None) -> None:
        """A call of the plan was started (``agent``: the preview agent it is dialled for)."""
        if call_id in self._calls:
            raise CampaignError(f"call {call_id} was placed twice")
        self._calls[call_id] = _Call(now, agent)

    def answered(self, call_id: str, now: datetime, owner: str | None = None) -> str | None:
        """A person answered: the agent who takes the call (moved on call), or None when nobody can.

        An accepted preview goes to its own agent or nobody: that agent read this lead and nobody
        else has seen the card. Any other call goes to the lead's owner when free, else to the agent
        idle longest; agents holding an accepted preview are kept for their own customer.
        """
        call = self._call(call_id)
        call.answered_at = now
        if call.reserved_for is not None:
            fixed = self.roster.get(call.reserved_for)
            session = fixed if fixed.state is AgentState.AVAILABLE else None
        else:
            session = self.roster.select(owner=owner, exclude=self.held_for_previews())
        if session is None:
            return None
        self.observe(session.connect(call_id, now))
        call.agent = session.agent_id
        return call.agent

    def ended(self, call_id: str, outcome: Outcome, now: datetime, *, talked: bool = True) -> Transition | None:
        """The call is over with ``outcome``. Its agent, if it had one, starts wrap-up; with
        ``talked`` False (taken at answer, but the agent's phone never bridged) the agent is free
        again at once. Returns the agent's last move, or None when the call had no agent."""
        call = self._calls.pop(call_id, None)
        if call is None:
            raise CampaignError(f"call {call_id} ended but was never placed")
        ring_end = call.answered_at or now
        self._stats.observe_attempt(outcome, max(0.0, (ring_end - call.placed_at).total_seconds()))
        if call.agent is None:
            return None
        session = self.roster.get(call.agent)
        moved = self.observe(session.hangup(now))
        if not talked:
            moved = self.observe(session.submit_disposition(now))
        return moved

    def lines(self) -> int:
        """Lines this campaign's calls hold now (placed and not ended)."""
        return len(self._calls)

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise CampaignError(f"call {call_id} was never placed")
        return call

    def held_for_previews(self) -> set[str]:
        """Agents kept for their own accepted preview: waiting for its line, or its call under way."""
        return set(self._ready) | {c.reserved_for for c in self._calls.values() if c.reserved_for is not None}
