"""Phone presence: whether an agent is logged in to take calls, available or paused with a reason.

An agent sets it from the desk (log in, log out, pause with a reason from
``campaigns.pause_reasons``, resume). The campaign runners apply it to their rosters
(:func:`reconcile`), the inbound queue follows it (member added, removed, paused), and the
wallboard shows it. It is stored (migration 0080) so a restart keeps who is paused and who went home.

An agent with NO stored presence counts as logged in and available: command-line runs, the demo
and agents who never open the desk work exactly as before presence existed. Logging in from the
desk is allowed in that state too: it makes the presence explicit and joins the inbound queue.

The PBX keeps queue members in memory only: on every AMI link-up (first connect, reconnect,
Asterisk restarted) :meth:`PresenceService.restore_queue` puts back what the stored presence says
(:func:`queue_plan`); agents with no stored row are left as they are in the queue.

A change made while the agent is on a call or in wrap-up is stored at once but reaches the
runner's roster only after the wrap-up ends (:func:`reconcile` waits), because
:class:`~dialer.domain.campaigns.agents.AgentSession` refuses to log out a call that still owes its
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

from dialer.ami.errors import AmiError
from dialer.clock import Clock
from dialer.domain.campaigns.agents import AgentSession, AgentState, Transition
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.events.bus import BusEvent, EventBus
from dialer.logs import get_logger
from dialer.store.database import Database, Row
from dialer.timestamps import from_db, to_db

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


async def run_queue_steps(queue: QueuePort, steps: Iterable[QueueStep]) -> tuple[str, ...]:
    """Send ``steps`` in order; the agents whose member could not be set (each logged with the PBX's answer).

    A refusal skips that agent's remaining steps (pausing a member that was not added is
    pointless) and moves on to the next agent: one bad endpoint must not keep the others out of
    the queue. The caller retries everything on the next link-up.
    """
    failed: list[str] = []
    for step in steps:
        if step.agent in failed:
            continue
        try:
            match step.move:
                case QueueMove.ADD:
                    await queue.add(step.agent)
                case QueueMove.REMOVE:
                    await queue.remove(step.agent)
                case QueueMove.PAUSE | QueueMove.UNPAUSE:
                    await queue.pause(step.agent, step.move is QueueMove.PAUSE, step.reason)
        except (QueueChangeRefused, AmiError) as exc:
            failed.append(step.agent)
            log.warning("presence.queue_restore_refused", agent=step.agent, move=step.move.value, error=str(exc),
                        policy="retried on the next link-up")  # fmt: skip
    return tuple(failed)


def _presence(row: Row) -> Presence:
    return Presence(row["agent"], PhoneState(row["state"]), from_db(row["since"]), row["reason"])


class PresenceService:
    """Stores presence, keeps the inbound queue in step, and announces each change on the bus.

    With ``queue`` (the PBX is connected) every change goes to the PBX first: when the PBX refuses,
    its error reaches the caller and the stored presence stays as it was, so the desk never shows a
    state the inbound queue does not have.
    """

    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, reasons: Sequence[str], queue: QueuePort | None = None
    ) -> None:
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

    async def restore_queue(self) -> tuple[str, ...]:
        """Make the inbound queue match every stored presence (after each AMI link-up); the agents refused.

        Holds the change lock throughout, so a desk click waits instead of being undone by a
        restore that read the presence before the click.
        """
        if self._queue is None:
            raise RuntimeError("restore_queue needs the PBX: build the service with with_queue()")
        async with self._lock:
            stored = await self.current()
            failed = await run_queue_steps(self._queue, queue_plan(stored.values()))
        log.info("presence.queue_restored", agents=len(stored), failed=list(failed))
        return failed

    async def _move_queue(self, before: Presence, after: Presence) -> None:
        assert self._queue is not None
        if after.state is PhoneState.LOGGED_OUT:
            await self._queue.remove(after.agent)
        elif before.state is PhoneState.LOGGED_OUT or not before.explicit:
            await self._queue.add(after.agent)  # a new member joins unpaused
            if after.state is PhoneState.PAUSED:
                await self._queue.pause(after.agent, True, after.reason)
        elif after.state is PhoneState.PAUSED:
            # A new reason is sent too: the PBX's "queue show" names it.
            if before.state is not PhoneState.PAUSED or before.reason != after.reason:
                await self._queue.pause(after.agent, True, after.reason)
        elif before.state is PhoneState.PAUSED:
            await self._queue.pause(after.agent, False)
