"""Phone presence: whether an agent is logged in to take calls, available or paused with a reason.

An agent sets it from the desk (log in, log out, pause with a reason from
``campaigns.pause_reasons``, resume). The campaign runners apply it to their rosters
(:func:`reconcile`), the inbound queue follows it (member added, removed, paused), and the
wallboard shows it. It is stored (migration 0080) so a restart keeps who is paused and who went home.

An agent with NO stored presence counts as logged in and available: command-line runs, the demo
and agents who never open the desk work exactly as before presence existed. Logging in from the
desk is allowed in that state too: it makes the presence explicit and joins the inbound queue.

A change made while the agent is on a call or in wrap-up is stored at once but reaches the
runner's roster only after the wrap-up ends (:func:`reconcile` waits), because
:class:`~dialer.campaigns.agents.AgentSession` refuses to log out a call that still owes its
disposition, and a pause must not give up a disposition the agent is still typing.

Pure rules (:func:`next_presence`, :func:`reconcile`) are kept apart from the service that
stores the state and talks to the PBX, so they are tested without either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.campaigns.agents import AgentSession, AgentState, Transition
from dialer.campaigns.errors import CampaignError
from dialer.clock import Clock
from dialer.events.bus import BusEvent, EventBus
from dialer.logging import get_logger
from dialer.store.database import Database, Row
from dialer.store.timestamps import from_db, to_db

log = get_logger(__name__)


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


@dataclass(frozen=True, slots=True)
class PresenceChanged(BusEvent):
    """An agent's presence changed; the desk and the wallboard show it, the runners apply it."""

    agent: str
    state: PhoneState
    reason: str | None


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
                raise PresenceRefused("reason", f"agent {current.agent}: pause reason {reason!r} is not one of {', '.join(reasons)}")
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
    """The inbound queue's members (:class:`dialer.inbound.queue.InboundQueue`)."""

    async def add(self, agent: str) -> None: ...

    async def remove(self, agent: str) -> None: ...

    async def pause(self, agent: str, paused: bool) -> None: ...


def _presence(row: Row) -> Presence:
    return Presence(row["agent"], PhoneState(row["state"]), from_db(row["since"]), row["reason"])


class PresenceService:
    """Stores presence, keeps the inbound queue in step, and announces each change on the bus.

    With ``queue`` (the PBX is connected) every change goes to the PBX first: when the PBX refuses,
    its error reaches the caller and the stored presence stays as it was, so the desk never shows a
    state the inbound queue does not have.
    """

    def __init__(self, db: Database, bus: EventBus, clock: Clock, reasons: Sequence[str], queue: QueuePort | None = None) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self.reasons = tuple(reasons)
        self._queue = queue
        # One change at a time: two clicks must not both read the same "before".
        self._lock = asyncio.Lock()

    def with_queue(self, queue: QueuePort) -> PresenceService:
        """The same presence, now also moving the inbound queue (the app connected to the PBX)."""
        return PresenceService(self._db, self._bus, self._clock, self.reasons, queue)

    async def current(self) -> dict[str, Presence]:
        """Every stored presence, by agent."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT agent, state, reason, since FROM agent_presence")
        return {row["agent"]: _presence(row) for row in rows}

    async def get(self, agent: str) -> Presence:
        """``agent``'s presence (the default when never set)."""
        async with self._db.read() as r:
            row = await r.fetchone("SELECT agent, state, reason, since FROM agent_presence WHERE agent = ?", (agent,))
        return default_presence(agent) if row is None else _presence(row)

    async def change(self, agent: str, command: PresenceCommand, actor: str, reason: str | None = None) -> Presence:
        """Apply one desk command; :class:`PresenceRefused` when it does not apply, the PBX's error when it refuses."""
        async with self._lock:
            before = await self.get(agent)
            after = next_presence(before, command, self._clock.now(), reason, self.reasons)
            if self._queue is not None:
                await self._move_queue(before, after)
            assert after.since is not None
            async with self._db.write() as tx:
                await tx.execute(
                    "INSERT INTO agent_presence (agent, state, reason, since, actor) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (agent) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
                    " since = excluded.since, actor = excluded.actor",
                    (agent, after.state.value, after.reason, to_db(after.since), actor),
                )
        log.info("presence.changed", agent=agent, state=after.state.value, reason=after.reason, actor=actor)
        self._bus.publish(PresenceChanged(after.since, agent, after.state, after.reason))
        return after

    async def _move_queue(self, before: Presence, after: Presence) -> None:
        assert self._queue is not None
        if after.state is PhoneState.LOGGED_OUT:
            await self._queue.remove(after.agent)
        elif before.state is PhoneState.LOGGED_OUT or not before.explicit:
            await self._queue.add(after.agent)  # a new member joins unpaused
            if after.state is PhoneState.PAUSED:
                await self._queue.pause(after.agent, True)
        elif (before.state is PhoneState.PAUSED) != (after.state is PhoneState.PAUSED):
            await self._queue.pause(after.agent, after.state is PhoneState.PAUSED)
