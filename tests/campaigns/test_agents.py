from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.campaigns.agents import AgentRoster, AgentSession, AgentState, TransitionCause
from dialer.domain.campaigns.errors import CampaignError, IllegalTransition, UnknownAgent

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_full_call_cycle_reports_time_spent_in_each_state() -> None:
    s = AgentSession("a1", wrap_up_timeout_s=60, now=T0)
    assert s.login(at(0)).after is AgentState.AVAILABLE
    s.connect("c1", at(10))
    assert (s.state, s.call_id) == (AgentState.ON_CALL, "c1")
    talk = s.hangup(at(100))
    assert (talk.before, talk.after, talk.held_s) == (AgentState.ON_CALL, AgentState.WRAP_UP, 90.0)
    assert s.call_id is None
    wrap = s.submit_disposition(at(125))
    assert (wrap.after, wrap.cause, wrap.held_s) == (AgentState.AVAILABLE, TransitionCause.DISPOSITION, 25.0)
    assert s.logout(at(130)).after is AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    ("prepare", "event"),
    [
        ([], lambda s, t: s.connect("c1", t)),
        ([], lambda s, t: s.pause("lunch", t)),
        (["login"], lambda s, t: s.hangup(t)),
        (["login"], lambda s, t: s.submit_disposition(t)),
        (["login"], lambda s, t: s.resume(t)),
        (["login", "connect"], lambda s, t: s.logout(t)),
        (["login", "connect"], lambda s, t: s.pause("break", t)),
        (["login", "connect", "hangup"], lambda s, t: s.logout(t)),
        (["login", "connect", "hangup"], lambda s, t: s.connect("c2", t)),
    ],
)
def test_illegal_events_are_refused_and_leave_the_state_alone(prepare: list[str], event) -> None:
    s = AgentSession("a7", 60, T0)
    steps = {
        "login": lambda: s.login(at(1)),
        "connect": lambda: s.connect("c1", at(2)),
        "hangup": lambda: s.hangup(at(3)),
    }
    for step in prepare:
        steps[step]()
    before = s.state
    with pytest.raises(IllegalTransition, match="agent a7: cannot"):
        event(s, at(10))
    assert s.state is before


def test_pause_needs_a_reason_ends_wrap_up_and_resume_makes_available() -> None:
    s = AgentSession("a1", 60, T0)
    s.login(at(0))
    with pytest.raises(IllegalTransition, match="reason"):
        s.pause("", at(1))
    s.connect("c1", at(1))
    s.hangup(at(50))
    moved = s.pause("培训", at(55))
    assert (moved.before, s.state, s.pause_reason) == (AgentState.WRAP_UP, AgentState.PAUSED, "培训")
    s.resume(at(300))
    assert (s.state, s.pause_reason) == (AgentState.AVAILABLE, None)


def test_wrap_up_times_out_only_after_the_configured_time() -> None:
    s = AgentSession("a1", wrap_up_timeout_s=45, now=T0)
    s.login(at(0))
    s.connect("c1", at(0))
    s.hangup(at(100))
    assert s.wrap_up_ends_at == at(145)
    assert s.tick(at(144.9)) is None
    assert s.state is AgentState.WRAP_UP
    moved = s.tick(at(145))
    assert moved is not None and moved.cause is TransitionCause.WRAP_UP_TIMEOUT and moved.held_s == 45
    assert s.state is AgentState.AVAILABLE and s.wrap_up_ends_at is None
    assert s.tick(at(500)) is None


def test_events_may_not_go_back_in_time() -> None:
    s = AgentSession("a1", 60, T0)
    s.login(at(10))
    with pytest.raises(IllegalTransition, match="before"):
        s.connect("c1", at(5))


def _roster(*logins: tuple[str, float]) -> AgentRoster:
    roster = AgentRoster(wrap_up_timeout_s=60)
    for agent_id, when in logins:
        roster.add(agent_id, T0).login(at(when))
    return roster


def test_longest_idle_agent_is_selected_first() -> None:
    roster = _roster(("a1", 30), ("a2", 10), ("a3", 20))
    assert roster.select().agent_id == "a2"
    roster.get("a2").connect("c1", at(40))
    assert roster.select().agent_id == "a3"
    assert roster.longest_idle(exclude={"a3"}).agent_id == "a1"


def test_owner_gets_their_own_lead_when_available_else_longest_idle() -> None:
    roster = _roster(("a1", 10), ("owner", 30))
    assert roster.select(owner="owner").agent_id == "owner"
    roster.get("owner").connect("c1", at(40))
    assert roster.select(owner="owner").agent_id == "a1"
    assert roster.select(owner="nobody").agent_id == "a1"


def test_nobody_available_selects_none_and_unknown_agents_are_errors() -> None:
    roster = _roster(("a1", 0))
    roster.get("a1").pause("lunch", at(1))
    assert roster.select() is None
    with pytest.raises(UnknownAgent, match="'ghost'"):
        roster.get("ghost")


def test_roster_tick_closes_every_overdue_wrap_up() -> None:
    roster = _roster(("a1", 0), ("a2", 0), ("a3", 0))
    for i, agent in enumerate(("a1", "a2")):
        roster.get(agent).connect(f"c{i}", at(1))
        roster.get(agent).hangup(at(10 + i * 30))
    moved = roster.tick(at(75))
    assert [m.agent_id for m in moved] == ["a1"]
    assert [s.agent_id for s in roster.in_state(AgentState.WRAP_UP)] == ["a2"]


def test_a_session_needs_a_positive_wrap_up_timeout() -> None:
    with pytest.raises(CampaignError, match="a9: wrap_up_timeout_s = 0"):
        AgentSession("a9", 0, T0)
