"""Phone presence: the pure rules (desk commands, roster reconciliation, what the board shows) and
the service that stores it, moves the inbound queue and announces each change."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dialer.campaigns.presence import PresenceChanged, PresenceService
from dialer.domain.campaigns.agents import AgentSession, AgentState
from dialer.domain.campaigns.presence import (
    PhoneState,
    Presence,
    PresenceCommand,
    PresenceRefused,
    board_state,
    default_presence,
    next_presence,
    reconcile,
)
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.events.bus import EventBus
from dialer.store.presence import PresenceStore

from .conftest import START, World

REASONS = ("休息", "培训", "会议", "午餐")
T1 = START + timedelta(minutes=1)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


# -- desk commands ---------------------------------------------------------------------------------


def test_login_from_logged_out_and_from_the_implicit_default_but_not_twice() -> None:
    out = Presence("agent1", PhoneState.LOGGED_OUT, START)
    assert next_presence(out, PresenceCommand.LOGIN, T1, None, REASONS) == Presence("agent1", PhoneState.AVAILABLE, T1)
    implicit = default_presence("agent1")
    assert not implicit.explicit
    made = next_presence(implicit, PresenceCommand.LOGIN, T1, None, REASONS)
    assert made.explicit and made.state is PhoneState.AVAILABLE
    with pytest.raises(PresenceRefused) as refused:
        next_presence(made, PresenceCommand.LOGIN, T1, None, REASONS)
    assert refused.value.field == "state" and "cannot login while available" in str(refused.value)


def test_pause_needs_a_configured_reason_and_a_logged_in_phone() -> None:
    available = Presence("agent1", PhoneState.AVAILABLE, START)
    for bad in (None, "", "洗手间"):
        with pytest.raises(PresenceRefused) as refused:
            next_presence(available, PresenceCommand.PAUSE, T1, bad, REASONS)
        assert refused.value.field == "reason" and repr(bad) in str(refused.value)
    paused = next_presence(available, PresenceCommand.PAUSE, T1, "午餐", REASONS)
    assert (paused.state, paused.reason, paused.since) == (PhoneState.PAUSED, "午餐", T1)
    assert next_presence(paused, PresenceCommand.PAUSE, at(90), "会议", REASONS).reason == "会议"  # another reason
    with pytest.raises(PresenceRefused):
        next_presence(paused, PresenceCommand.PAUSE, at(90), "午餐", REASONS)  # the same pause again changes nothing
    with pytest.raises(PresenceRefused):
        next_presence(Presence("agent1", PhoneState.LOGGED_OUT, START), PresenceCommand.PAUSE, T1, "午餐", REASONS)


def test_resume_only_from_a_pause_and_logout_from_anything_but_logged_out() -> None:
    paused = Presence("agent1", PhoneState.PAUSED, START, "培训")
    resumed = next_presence(paused, PresenceCommand.RESUME, T1, None, REASONS)
    assert (resumed.state, resumed.reason) == (PhoneState.AVAILABLE, None)
    with pytest.raises(PresenceRefused):
        next_presence(resumed, PresenceCommand.RESUME, T1, None, REASONS)
    assert next_presence(paused, PresenceCommand.LOGOUT, T1, None, REASONS).state is PhoneState.LOGGED_OUT
    assert (
        next_presence(default_presence("agent1"), PresenceCommand.LOGOUT, T1, None, REASONS).state
        is PhoneState.LOGGED_OUT
    )
    with pytest.raises(PresenceRefused):
        next_presence(Presence("agent1", PhoneState.LOGGED_OUT, START), PresenceCommand.LOGOUT, T1, None, REASONS)


# -- the runner's roster follows presence ----------------------------------------------------------


def _session(state: AgentState) -> AgentSession:
    s = AgentSession("agent1", 120.0, START)
    if state is not AgentState.LOGGED_OUT:
        s.login(START)
    if state in (AgentState.ON_CALL, AgentState.WRAP_UP):
        s.connect("c1", START)
    if state is AgentState.WRAP_UP:
        s.hangup(START)
    if state is AgentState.PAUSED:
        s.pause("休息", START)
    return s


def test_reconcile_brings_the_session_to_the_presence() -> None:
    cases = [
        (AgentState.LOGGED_OUT, default_presence("agent1"), AgentState.AVAILABLE, ["login"]),
        (AgentState.AVAILABLE, Presence("agent1", PhoneState.LOGGED_OUT, START), AgentState.LOGGED_OUT, ["logout"]),
        (AgentState.PAUSED, Presence("agent1", PhoneState.LOGGED_OUT, START), AgentState.LOGGED_OUT, ["logout"]),
        (
            AgentState.LOGGED_OUT,
            Presence("agent1", PhoneState.PAUSED, START, "会议"),
            AgentState.PAUSED,
            ["login", "pause"],
        ),
        (
            AgentState.PAUSED,
            Presence("agent1", PhoneState.PAUSED, START, "会议"),
            AgentState.PAUSED,
            ["pause"],
        ),  # new reason
        (AgentState.PAUSED, Presence("agent1", PhoneState.PAUSED, START, "休息"), AgentState.PAUSED, []),
        (AgentState.PAUSED, Presence("agent1", PhoneState.AVAILABLE, START), AgentState.AVAILABLE, ["resume"]),
        (AgentState.AVAILABLE, default_presence("agent1"), AgentState.AVAILABLE, []),
    ]
    for before, wanted, after, causes in cases:
        session = _session(before)
        moves = reconcile(session, wanted, T1)
        assert [m.cause.value for m in moves] == causes, (before, wanted)
        assert session.state is after, (before, wanted)
        if wanted.state is PhoneState.PAUSED:
            assert session.pause_reason == wanted.reason


def test_presence_waits_for_the_call_and_its_wrap_up() -> None:
    away = Presence("agent1", PhoneState.LOGGED_OUT, START)
    for state in (AgentState.ON_CALL, AgentState.WRAP_UP):
        session = _session(state)
        assert reconcile(session, away, T1) == [] and session.state is state
    waiting = _session(AgentState.AVAILABLE)  # an accepted preview waits for its line
    assert reconcile(waiting, Presence("agent1", PhoneState.PAUSED, START, "午餐"), T1, busy=True) == []
    session = _session(AgentState.WRAP_UP)
    session.submit_disposition(T1)
    assert [m.cause.value for m in reconcile(session, away, at(61))] == ["logout"]


def test_the_board_shows_a_call_over_the_presence() -> None:
    paused = Presence("agent1", PhoneState.PAUSED, START, "午餐")
    assert board_state(paused, [_session(AgentState.AVAILABLE)]).state is AgentState.PAUSED
    shown = board_state(paused, [_session(AgentState.AVAILABLE), _session(AgentState.WRAP_UP)])
    assert (shown.state, shown.reason) == (AgentState.WRAP_UP, None)
    assert board_state(default_presence("agent1"), []).since is None


# -- the service: stored, announced, the inbound queue in step -----------------------------------


class FakeQueue:
    """The inbound queue's members as the PBX would keep them; ``refuse`` makes the next change fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.refuse = False

    async def _do(self, *call: str) -> None:
        if self.refuse:
            raise QueueChangeRefused(f"PBX refused {call[0]} {call[1]}: Unable to {call[0]} interface")
        self.calls.append(call)

    async def add(self, agent: str) -> None:
        await self._do("add", agent)

    async def remove(self, agent: str) -> None:
        await self._do("remove", agent)

    async def pause(self, agent: str, paused: bool, reason: str | None = None) -> None:
        await self._do("pause" if paused else "unpause", agent, *([] if reason is None else [reason]))


async def test_changes_are_stored_announced_and_reach_the_queue(world: World) -> None:
    bus = EventBus()
    events = bus.subscribe(PresenceChanged)
    queue = FakeQueue()
    service = PresenceService(PresenceStore(world.db), bus, world.clock, REASONS).with_queue(queue)
    assert await service.get("agent1") == default_presence("agent1") and await service.current() == {}
    await service.change("agent1", PresenceCommand.LOGIN, "web:zhang")
    world.clock.advance(30)
    paused = await service.change("agent1", PresenceCommand.PAUSE, "web:zhang", "培训")
    world.clock.advance(30)
    await service.change("agent1", PresenceCommand.RESUME, "web:zhang")
    await service.change("agent1", PresenceCommand.LOGOUT, "web:zhang")
    assert queue.calls == [("add", "agent1"), ("pause", "agent1", "培训"), ("unpause", "agent1"), ("remove", "agent1")]
    assert [(e.state, e.reason) for e in events.pending()] == [
        (PhoneState.AVAILABLE, None), (PhoneState.PAUSED, "培训"), (PhoneState.AVAILABLE, None), (PhoneState.LOGGED_OUT, None),
    ]  # fmt: skip
    assert paused.since == START + timedelta(seconds=30)
    # Another service over the same store (a restart) reads the same presence.
    again = PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS)
    assert (await again.current())["agent1"].state is PhoneState.LOGGED_OUT


async def test_a_first_pause_joins_the_queue_paused(world: World) -> None:
    queue = FakeQueue()
    service = PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS, queue)
    await service.change("agent2", PresenceCommand.PAUSE, "web:liu", "会议")
    assert queue.calls == [("add", "agent2"), ("pause", "agent2", "会议")]


async def test_a_pbx_refusal_reaches_the_caller_and_changes_nothing(world: World) -> None:
    bus = EventBus()
    events = bus.subscribe(PresenceChanged)
    queue = FakeQueue()
    service = PresenceService(PresenceStore(world.db), bus, world.clock, REASONS, queue)
    await service.change("agent1", PresenceCommand.LOGIN, "web:zhang")
    events.pending()
    queue.refuse = True
    with pytest.raises(QueueChangeRefused, match="Unable to pause"):
        await service.change("agent1", PresenceCommand.PAUSE, "web:zhang", "休息")
    assert (await service.get("agent1")).state is PhoneState.AVAILABLE
    assert events.pending() == []
