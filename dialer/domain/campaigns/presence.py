"""Phone presence: whether an agent is logged in to take calls, available or paused with a reason.

An agent sets it from the desk (log in, log out, pause with a reason from
``campaigns.pause_reasons``, resume). The campaign runners apply it to their rosters
(:func:`reconcile`), the inbound queue follows it (member added, removed, paused), and the
wallboard shows it. It is stored (migration 0080) so a restart keeps who is paused and who went home.

An agent with NO stored presence counts as logged in and available: command-line runs, the demo
and agents who never open the desk work exactly as before presence existed. Logging in from the
desk is allowed in that state too: it makes the presence explicit and joins the inbound queue.

The PBX keeps queue members in memory only: on every AMI link-up (first connect, reconnect,
Asterisk restarted) :meth:`~dialer.campaigns.presence.PresenceService.restore_queue` puts back what the stored presence says
(:func:`queue_plan`); agents with no stored row are left as they are in the queue.

A change made while the agent is on a call or in wrap-up is stored at once but reaches the
runner's roster only after the wrap-up ends (:func:`reconcile` waits), because
:class:`~dialer.domain.campaigns.agents.AgentSession` refuses to log out a call that still owes its
disposition, and a pause must not give up a disposition the agent is still typing.

These are the pure rules (:func:`next_presence`, :func:`reconcile`, :func:`queue_plan`): the
service that stores the state and talks to the PBX is :mod:`dialer.campaigns.presence`, the SQL
:mod:`dialer.store.presence`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.domain.campaigns.agents import AgentSession, AgentState, Transition
from dialer.domain.campaigns.errors import CampaignError


class PhoneState(StrEnum):
    """What an agent chose at the desk (the call-driven states on_call / wrap_up are the runner's)."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    PAUSED = "paused"


class PresenceCommand(StrEnum):
    """The desk's four buttons."""

    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"


class PresenceRefused(CampaignError):
    """A command that does not fit the agent's current presence (or a pause reason not configured).

    ``field`` names the request field at fault ("reason") or "state" for a move not allowed now.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Presence:
    """One agent's presence; ``since`` None means never set (the implicit default: available)."""

    agent: str
    state: PhoneState
    since: datetime | None
    reason: str | None = None

    @property
    def explicit(self) -> bool:
        """Whether the agent set this at the desk (stored), as opposed to the default."""
        return self.since is not None


def default_presence(agent: str) -> Presence:
    """An agent nobody set a presence for: logged in and available (see the module doc)."""
    return Presence(agent, PhoneState.AVAILABLE, None)


def next_presence(current: Presence, command: PresenceCommand, now: datetime, reason: str | None,
                  reasons: Sequence[str]) -> Presence:  # fmt: skip
    """The presence after ``command``, or :class:`PresenceRefused` naming why it does not apply now."""
    state = current.state
    match command:
        case PresenceCommand.LOGIN:
            # From the implicit default too: the first desk login makes presence explicit.
            if state is PhoneState.LOGGED_OUT or (state is PhoneState.AVAILABLE and not current.explicit):
                return Presence(current.agent, PhoneState.AVAILABLE, now)
        case PresenceCommand.LOGOUT:
            if state is not PhoneState.LOGGED_OUT:
                return Presence(current.agent, PhoneState.LOGGED_OUT, now)
        case PresenceCommand.PAUSE:
            if reason is None or reason not in reasons:
                raise PresenceRefused(
                    "reason", f"agent {current.agent}: pause reason {reason!r} is not one of {', '.join(reasons)}"
                )
            if state is not PhoneState.LOGGED_OUT and not (state is PhoneState.PAUSED and current.reason == reason):
                return Presence(current.agent, PhoneState.PAUSED, now, reason)
        case PresenceCommand.RESUME:
            if state is PhoneState.PAUSED:
                return Presence(current.agent, PhoneState.AVAILABLE, now)
    raise PresenceRefused("state", f"agent {current.agent}: cannot {command.value} while {state.value}")


def reconcile(session: AgentSession, wanted: Presence, now: datetime, *, busy: bool = False) -> list[Transition]:
    """Move a runner's session toward the agent's presence; the moves made.

    Nothing moves while the agent is on a call, in wrap-up or ``busy`` (an accepted preview waits
    for its line): presence set meanwhile takes effect once that is over.
    """
    state = session.state
    if busy or state in (AgentState.ON_CALL, AgentState.WRAP_UP):
        return []
    moves: list[Transition] = []
    match wanted.state:
        case PhoneState.LOGGED_OUT:
            if state is not AgentState.LOGGED_OUT:
                moves.append(session.logout(now))
        case PhoneState.AVAILABLE:
            if state is AgentState.LOGGED_OUT:
                moves.append(session.login(now))
            elif state is AgentState.PAUSED:
                moves.append(session.resume(now))
        case PhoneState.PAUSED:
            assert wanted.reason is not None, "a stored pause always has its reason (CHECK in 0080)"
            if state is AgentState.LOGGED_OUT:
                moves.append(session.login(now))
            if session.state is not AgentState.PAUSED or session.pause_reason != wanted.reason:
                moves.append(session.pause(wanted.reason, now))
    return moves


@dataclass(frozen=True, slots=True)
class BoardState:
    """What the desk and the wallboard say an agent is doing, since when, and why when paused."""

    state: AgentState
    since: datetime | None  # None: available by default, never set
    reason: str | None = None


def board_state(presence: Presence, sessions: Iterable[AgentSession]) -> BoardState:
    """A call or wrap-up in any campaign runner wins; otherwise the presence the agent set.

    The runners apply presence on their next loop, so between a click and that loop the presence
    is the truer answer; a call, though, only the runner knows about.
    """
    for session in sessions:
        if session.state in (AgentState.ON_CALL, AgentState.WRAP_UP):
            return BoardState(session.state, session.since)
    return BoardState(AgentState(presence.state.value), presence.since, presence.reason)


class PresenceReader(Protocol):
    """What a campaign runner needs: everyone's current presence (agents not in it: the default)."""

    async def current(self) -> Mapping[str, Presence]:
        """Every stored presence, by agent."""
        ...


class QueuePort(Protocol):
    """The inbound queue's members (:class:`dialer.inbound.queue.InboundQueue`).

    ``add`` and ``remove`` succeed when the member already is (is not) there: both the desk and
    the restore after a link-up want a state, not a change.
    """

    async def add(self, agent: str) -> None: ...

    async def remove(self, agent: str) -> None: ...

    async def pause(self, agent: str, paused: bool, reason: str | None = None) -> None: ...


class QueueMove(StrEnum):
    """One change of a queue member, as :class:`QueuePort` makes it."""

    ADD = "add"
    REMOVE = "remove"
    PAUSE = "pause"
    UNPAUSE = "unpause"


@dataclass(frozen=True, slots=True)
class QueueStep:
    """One command of a queue restore: ``move`` for ``agent`` (``reason`` only with PAUSE)."""

    agent: str
    move: QueueMove
    reason: str | None = None


def queue_plan(presences: Iterable[Presence]) -> tuple[QueueStep, ...]:
    """The commands that make the inbound queue match stored presences, whatever the PBX has now.

    The queue lives only in Asterisk's memory (``persistentmembers = no``), so after a PBX restart
    it is empty, and after a mere reconnect it may still hold what it had: every step is
    idempotent and an available member is unpaused explicitly, so both cases end the same.
    Only stored presences come in: an agent with no row was never put in the queue by the desk,
    and whoever did (``dialer inbound agents``) keeps them there by hand, so they are not touched.
    Agents in name order, each agent's steps together (a refusal skips the rest of that agent's).
    """
    return tuple(step for presence in sorted(presences, key=lambda p: p.agent) for step in _queue_steps(presence))


def _queue_steps(presence: Presence) -> tuple[QueueStep, ...]:
    agent = presence.agent
    match presence.state:
        case PhoneState.LOGGED_OUT:
            return (QueueStep(agent, QueueMove.REMOVE),)
        case PhoneState.AVAILABLE:
            return QueueStep(agent, QueueMove.ADD), QueueStep(agent, QueueMove.UNPAUSE)
        case PhoneState.PAUSED:
            return QueueStep(agent, QueueMove.ADD), QueueStep(agent, QueueMove.PAUSE, presence.reason)
