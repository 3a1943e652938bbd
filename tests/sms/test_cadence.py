"""The repurchase cadence as a pure machine: events and a clock in, decisions out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialer.domain.sms.cadence import (
    CadenceRules,
    CallTask,
    DecideAt,
    Decided,
    Handoff,
    Phase,
    ReplyReceived,
    Tick,
    WaveSent,
    WaveState,
    step,
)
from dialer.domain.sms.rules import ReplyKind

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
WAIT = timedelta(hours=72)


def rules(handoff: Handoff = Handoff.NON_REPLIERS, threshold: float = 0.1) -> CadenceRules:
    return CadenceRules(WAIT, threshold, handoff, interested_priority=100, handoff_priority=10)


def sent(members: range, r: CadenceRules) -> WaveState:
    state, decisions = step(WaveState(Phase.SENDING, frozenset(members)), WaveSent(T0), r)
    assert decisions == [DecideAt(T0 + WAIT)] and state.phase is Phase.WAITING
    return state


def test_interested_reply_is_called_at_once_with_the_interested_priority() -> None:
    r = rules()
    state, decisions = step(sent(range(1, 11), r), ReplyReceived(3, ReplyKind.INTERESTED, T0), r)
    assert decisions == [CallTask(3, 100, "sms_interested")]
    # The same customer saying "1" again changes nothing.
    assert step(state, ReplyReceived(3, ReplyKind.INTERESTED, T0), r) == (state, [])


def test_nothing_is_decided_before_the_window_ends() -> None:
    r = rules()
    state = sent(range(1, 11), r)
    assert step(state, Tick(T0 + WAIT - timedelta(seconds=1)), r) == (state, [])


def test_low_reply_rate_hands_non_repliers_to_calling_and_never_the_opted_out() -> None:
    r = rules(threshold=0.5)
    state = sent(range(1, 11), r)
    for lead, kind in [(1, ReplyKind.INTERESTED), (2, ReplyKind.OPT_OUT), (3, ReplyKind.OTHER)]:
        state, _ = step(state, ReplyReceived(lead, kind, T0), r)
    state, decisions = step(state, Tick(T0 + WAIT), r)
    assert state.phase is Phase.HANDED_OFF and state.reply_rate == 0.3
    assert decisions[:-1] == [CallTask(lead, 10, "cadence_handoff") for lead in range(4, 11)]
    assert decisions[-1] == Decided(Phase.HANDED_OFF, 0.3, 7)


def test_handoff_all_takes_everyone_but_opt_outs_and_already_called_interested() -> None:
    r = rules(Handoff.ALL, threshold=0.5)
    state = sent(range(1, 6), r)
    state, _ = step(state, ReplyReceived(1, ReplyKind.INTERESTED, T0), r)
    state, _ = step(state, ReplyReceived(2, ReplyKind.OPT_OUT, T0), r)
    _, decisions = step(state, Tick(T0 + WAIT), r)
    assert [d.lead_id for d in decisions if isinstance(d, CallTask)] == [3, 4, 5]


def test_reply_rate_at_the_threshold_closes_the_wave() -> None:
    r = rules(threshold=0.2)
    state = sent(range(1, 11), r)
    for lead in (1, 2):
        state, _ = step(state, ReplyReceived(lead, ReplyKind.OTHER, T0), r)
    state, decisions = step(state, Tick(T0 + WAIT), r)
    assert decisions == [Decided(Phase.CLOSED, 0.2, 0)] and state.phase is Phase.CLOSED
    assert step(state, Tick(T0 + 2 * WAIT), r) == (state, [])


def test_opt_out_is_final_and_strangers_are_ignored() -> None:
    r = rules()
    state = sent(range(1, 4), r)
    state, _ = step(state, ReplyReceived(1, ReplyKind.OPT_OUT, T0), r)
    assert step(state, ReplyReceived(1, ReplyKind.INTERESTED, T0), r) == (state, [])
    assert step(state, ReplyReceived(99, ReplyKind.INTERESTED, T0), r) == (state, [])


def test_an_empty_wave_has_a_zero_reply_rate_and_hands_off_nobody() -> None:
    r = rules()
    state = sent(range(0), r)
    _, decisions = step(state, Tick(T0 + WAIT), r)
    assert decisions == [Decided(Phase.HANDED_OFF, 0.0, 0)]
