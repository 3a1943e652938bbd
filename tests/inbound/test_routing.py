"""The pure core of inbound routing: route decisions, callback times, the inbound call's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.calls import events as ev
from dialer.domain.calls.machine import CallProgress, Finished
from dialer.domain.calls.outcome import CallState, Outcome
from dialer.domain.campaigns.policy import CallingWindows
from dialer.domain.inbound.routing import CallerMissed, InboundCallMachine, Route, RouteKind, callback_at, decide_route
from dialer.settings import WindowDefaults

HOURS = CallingWindows.from_settings(WindowDefaults(sun="", last_call_margin_s=0.0), "Asia/Shanghai")
# Shanghai is UTC+8: 02:00 UTC is 10:00 local, 13:00 UTC is 21:00 local.
OPEN = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday morning
LATE = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # Friday 21:00, after closing
SATURDAY_OPEN = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # Saturday 09:00 local


@pytest.mark.parametrize(
    ("at", "owner", "expected"),
    [
        (OPEN, "agent2", Route(RouteKind.AGENT, "agent2")),
        (OPEN, None, Route(RouteKind.QUEUE)),
        (OPEN, "", Route(RouteKind.QUEUE)),
        (LATE, "agent2", Route(RouteKind.CLOSED)),
        (LATE, None, Route(RouteKind.CLOSED)),
    ],
)
def test_route(at: datetime, owner: str | None, expected: Route) -> None:
    assert decide_route(at, owner, HOURS) == expected


def test_callback_is_now_when_open_and_the_next_opening_when_closed() -> None:
    assert callback_at(OPEN, HOURS) == OPEN
    assert callback_at(LATE, HOURS) == SATURDAY_OPEN


def machine() -> InboundCallMachine:
    return InboundCallMachine("c1", OPEN)


def finished(decisions: list) -> Finished:  # type: ignore[type-arg]
    (decision,) = decisions
    assert isinstance(decision, Finished)
    return decision


def test_connected_call_is_answered_with_agent_and_recording() -> None:
    m = machine()
    m.feed(ev.RecordingStarted(OPEN, "/rec/c1.wav"))
    assert m.feed(ev.AgentConnected(OPEN + timedelta(seconds=3), "agent2")) == [
        CallProgress(CallState.CONNECTED, OPEN + timedelta(seconds=3), "agent2")
    ]
    result = finished(m.feed(ev.CallHungUp(OPEN + timedelta(seconds=60), 16))).result
    assert (result.outcome, result.agent, result.recording, result.hangup_cause) == (
        Outcome.ANSWERED,
        "agent2",
        "/rec/c1.wav",
        16,
    )
    assert result.answered_at == OPEN and result.connected_at == OPEN + timedelta(seconds=3)


@pytest.mark.parametrize(
    ("missed", "detail"),
    [
        (CallerMissed(OPEN, "closed", ""), "after hours: callback message played"),
        (CallerMissed(OPEN, "queue", "TIMEOUT"), "no agent answered (queue TIMEOUT)"),
        (CallerMissed(OPEN, "queue", "JOINEMPTY"), "no agent answered (queue JOINEMPTY)"),
        (None, "caller hung up before an agent answered"),
    ],
)
def test_a_call_no_agent_took_is_abandoned(missed: CallerMissed | None, detail: str) -> None:
    m = machine()
    m.feed(ev.RecordingStarted(OPEN, "/rec/c1.wav"))
    if missed is not None:
        m.feed(missed)
    result = finished(m.feed(ev.CallHungUp(OPEN + timedelta(seconds=20), 16))).result
    assert (result.outcome, result.detail, result.recording, result.agent) == (Outcome.ABANDONED, detail, None, None)


def test_a_vanished_call_is_unknown_unless_connected() -> None:
    assert finished(machine().feed(ev.CallVanished(OPEN))).result.outcome is Outcome.UNKNOWN
    m = machine()
    m.feed(ev.AgentConnected(OPEN, "agent1"))
    result = finished(m.feed(ev.CallVanished(OPEN))).result
    assert (result.outcome, result.detail) == (Outcome.ANSWERED, "call vanished from the PBX")


def test_events_after_the_end_and_a_second_connect_change_nothing() -> None:
    m = machine()
    m.feed(ev.AgentConnected(OPEN, "agent1"))
    assert m.feed(ev.AgentConnected(OPEN, "agent3")) == []
    m.feed(ev.CallHungUp(OPEN, 16))
    assert m.feed(ev.CallHungUp(OPEN, 16)) == []
    assert m.result is not None and m.result.agent == "agent1"
