"""Agent sessions: the state machine every campaign mode and the simulator share.

An agent is logged out, available, on a call, in wrap-up (writing the disposition) or
paused with a reason. Each event is a method that either moves the session or raises
:class:`IllegalTransition`, so a lost or duplicated event from the phone or the web face
shows up as an error instead of a silently wrong wallboard. Every move returns a
:class:`Transition` carrying how long the agent spent in the state it left: that is what
pacing statistics (talk and wrap-up times) and occupancy reports are built from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dialer.domain.campaigns.errors import CampaignError, IllegalTransition, UnknownAgent


class AgentState(StrEnum):
    """Where an agent is in the working cycle; pacing counts agents by these."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class TransitionCause(StrEnum):
    """Why a session moved, so reports can tell a submitted wrap-up from a timed-out one."""

    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"
    CONNECT = "connect"
    HANGUP = "hangup"
    DISPOSITION = "disposition"
    WRAP_UP_TIMEOUT = "wrap_up_timeout"


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of one agent; ``held_s`` is the time spent in ``before``."""

    agent_id: str
    before: AgentState
    after: AgentState
    cause: TransitionCause
    at: datetime
    held_s: float


class AgentSession:
    """One agent's state and the legal moves between states.

    Mutable on purpose: it is the single live record of an agent that the runner updates
    as events arrive; everything it hands out (transitions) is immutable.
    """

    __slots__ = ("_wrap_up_timeout", "agent_id", "call_id", "pause_reason", "since", "state")

    def __init__(self, agent_id: str, wrap_up_timeout_s: float, now: datetime) -> None:
        if wrap_up_timeout_s <= 0:
            raise CampaignError(f"agent {agent_id}: wrap_up_timeout_s = {wrap_up_timeout_s} must be positive")
        self.agent_id = agent_id
        self.state = AgentState.LOGGED_OUT
        self.since = now
        self.pause_reason: str | None = None
        self.call_id: str | None = None
        self._wrap_up_timeout = timedelta(seconds=wrap_up_timeout_s)

    def __repr__(self) -> str:
        return f"AgentSession({self.agent_id!r}, {self.state.value}, since={self.since.isoformat()})"

    @property
    def wrap_up_ends_at(self) -> datetime | None:
        """When an unsubmitted wrap-up will be closed for the agent; None outside wrap-up."""
        return self.since + self._wrap_up_timeout if self.state is AgentState.WRAP_UP else None

    def login(self, now: datetime) -> Transition:
        """Start a session; the agent is immediately available."""
        return self._move((AgentState.LOGGED_OUT,), AgentState.AVAILABLE, TransitionCause.LOGIN, now)

    def logout(self, now: datetime) -> Transition:
        """End the session; refused on a call or in wrap-up so no call loses its disposition."""
        return self._move((AgentState.AVAILABLE, AgentState.PAUSED), AgentState.LOGGED_OUT, TransitionCause.LOGOUT, now)

    def pause(self, reason: str, now: datetime) -> Transition:
        """Stop receiving calls; from wrap-up too, which ends the wrap-up (the disposition is in or given up)."""
        if not reason:
            raise IllegalTransition(f"agent {self.agent_id}: a pause needs a reason")
        moved = self._move(
            (AgentState.AVAILABLE, AgentState.WRAP_UP, AgentState.PAUSED), AgentState.PAUSED, TransitionCause.PAUSE, now
        )
        self.pause_reason = reason
        return moved

    def resume(self, now: datetime) -> Transition:
        """Back from a pause, ready for calls."""
        return self._move((AgentState.PAUSED,), AgentState.AVAILABLE, TransitionCause.RESUME, now)

    def connect(self, call_id: str, now: datetime) -> Transition:
        """A customer was bridged to this agent."""
        moved = self._move((AgentState.AVAILABLE,), AgentState.ON_CALL, TransitionCause.CONNECT, now)
        self.call_id = call_id
        return moved

    def hangup(self, now: datetime) -> Transition:
        """The call ended; the agent now owes a disposition."""
        return self._move((AgentState.ON_CALL,), AgentState.WRAP_UP, TransitionCause.HANGUP, now)

    def submit_disposition(self, now: datetime) -> Transition:
        """The agent recorded the outcome: wrap-up is over."""
        return self._move((AgentState.WRAP_UP,), AgentState.AVAILABLE, TransitionCause.DISPOSITION, now)

    def tick(self, now: datetime) -> Transition | None:
        """Close a wrap-up that ran past its timeout, so a forgetful agent does not stall the campaign."""
        ends = self.wrap_up_ends_at
        if ends is None or now < ends:
            return None
        return self._move((AgentState.WRAP_UP,), AgentState.AVAILABLE, TransitionCause.WRAP_UP_TIMEOUT, now)

    def _move(
        self, allowed: tuple[AgentState, ...], after: AgentState, cause: TransitionCause, now: datetime
    ) -> Transition:
        if self.state not in allowed:
            raise IllegalTransition(
                f"agent {self.agent_id}: cannot {cause.value} while {self.state.value} "
                f"(allowed from: {', '.join(s.value for s in allowed)})"
            )
        if now < self.since:
            raise IllegalTransition(
                f"agent {self.agent_id}: {cause.value} at {now.isoformat()} is before {self.since.isoformat()}"
            )
        moved = Transition(self.agent_id, self.state, after, cause, now, (now - self.since).total_seconds())
        self.state = after
        self.since = now
        if after is not AgentState.PAUSED:
            self.pause_reason = None
        if after is not AgentState.ON_CALL:
            self.call_id = None
        return moved


class AgentRoster:
    """All agent sessions of a campaign, and the rules for picking who takes the next call."""

    def __init__(self, wrap_up_timeout_s: float) -> None:
        self._wrap_up_timeout_s = wrap_up_timeout_s
        self._sessions: dict[str, AgentSession] = {}

    def add(self, agent_id: str, now: datetime) -> AgentSession:
        """Register an agent (logged out); adding twice returns the existing session."""
        session = self._sessions.get(agent_id)
        if session is None:
            session = self._sessions[agent_id] = AgentSession(agent_id, self._wrap_up_timeout_s, now)
        return session

    def get(self, agent_id: str) -> AgentSession:
        """The session of ``agent_id``; an unknown id is an error, not a new agent."""
        try:
            return self._sessions[agent_id]
        except KeyError:
            raise UnknownAgent(f"agent {agent_id!r} is not on this roster") from None

    def __iter__(self) -> Iterator[AgentSession]:
        return iter(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def in_state(self, state: AgentState) -> list[AgentSession]:
        """Sessions currently in ``state``, in roster order."""
        return [s for s in self._sessions.values() if s.state is state]

    def longest_idle(self, exclude: Collection[str] = ()) -> AgentSession | None:
        """The available agent who has waited longest: spreads work fairly across the room."""
        best: AgentSession | None = None
        for s in self._sessions.values():
            if s.state is AgentState.AVAILABLE and s.agent_id not in exclude and (best is None or s.since < best.since):
                best = s
        return best

    def select(self, owner: str | None = None, exclude: Collection[str] = ()) -> AgentSession | None:
        """Who takes a call: the lead's owner when available (a callback or owned lead stays with the
        agent who owns the customer), otherwise the longest-idle available agent."""
        if owner is not None:
            session = self._sessions.get(owner)
            if session is not None and session.state is AgentState.AVAILABLE and owner not in exclude:
                return session
        return self.longest_idle(exclude)

    def tick(self, now: datetime) -> list[Transition]:
        """Apply wrap-up timeouts to every session; returns the moves made."""
        return [t for s in self._sessions.values() if (t := s.tick(now)) is not None]
