"""The presence service: stores each agent's phone presence, moves the inbound queue with it, and
tells the desks and the wallboard. The rules are :mod:`dialer.domain.campaigns.presence`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialer.ami.errors import AmiError
from dialer.clock import Clock
from dialer.domain.campaigns.presence import (
    PhoneState,
    Presence,
    PresenceCommand,
    QueueMove,
    QueuePort,
    QueueStep,
    default_presence,
    next_presence,
    queue_plan,
)
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.events.bus import BusEvent, EventBus
from dialer.logs import get_logger
from dialer.store.presence import PresenceStore

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PresenceChanged(BusEvent):
    """An agent's presence changed; the desk and the wallboard show it, the runners apply it."""

    agent: str
    state: PhoneState
    reason: str | None


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


class PresenceService:
    """Stores presence, keeps the inbound queue in step, and announces each change on the bus.

    With ``queue`` (the PBX is connected) every change goes to the PBX first: when the PBX refuses,
    its error reaches the caller and the stored presence stays as it was, so the desk never shows a
    state the inbound queue does not have.
    """

    def __init__(
        self,
        store: PresenceStore,
        bus: EventBus,
        clock: Clock,
        reasons: Sequence[str],
        queue: QueuePort | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self.reasons = tuple(reasons)
        self._queue = queue
        # One change at a time: two clicks must not both read the same "before".
        self._lock = asyncio.Lock()

    def with_queue(self, queue: QueuePort) -> PresenceService:
        """The same presence, now also moving the inbound queue (the app connected to the PBX)."""
        return PresenceService(self._store, self._bus, self._clock, self.reasons, queue)

    async def current(self) -> dict[str, Presence]:
        """Every stored presence, by agent."""
        return await self._store.all()

    async def get(self, agent: str) -> Presence:
        """``agent``'s presence (the default when never set)."""
        return await self._store.get(agent) or default_presence(agent)

    async def change(self, agent: str, command: PresenceCommand, actor: str, reason: str | None = None) -> Presence:
        """Apply one desk command; :class:`PresenceRefused` when it does not apply, the PBX's error when it refuses."""
        async with self._lock:
            before = await self.get(agent)
            after = next_presence(before, command, self._clock.now(), reason, self.reasons)
            if self._queue is not None:
                await self._move_queue(before, after)
            await self._store.save(after, actor)
        assert after.since is not None, "a command's presence has a time"
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
