from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentState, Transition, TransitionCause
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.pacing import (
    AgentView,
    DialLimit,
    PacingMode,
    PacingSnapshot,
    PredictivePacer,
    PreviewPacer,
    ProgressivePacer,
    make_pacer,
)
from dialer.domain.campaigns.stats import PacingStats
from dialer.settings import PacingDefaults

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
TZ = "Asia/Shanghai"


def snap(
    available: int = 0,
    on_call: int = 0,
    wrap_up: tuple[float, ...] = (),
    ringing: int = 0,
    waiting: int = 0,
    lines_in_use: int | None = None,
    cap: int = 8,
    preview_ready: int = 0,
    now: datetime = T0,
) -> PacingSnapshot:
    agents = (
        [AgentView(AgentState.AVAILABLE, now - timedelta(seconds=5))] * available
        + [AgentView(AgentState.ON_CALL, now - timedelta(seconds=10))] * on_call
        + [AgentView(AgentState.WRAP_UP, now - timedelta(seconds=e)) for e in wrap_up]
        + [AgentView(AgentState.PAUSED, now)]
    )
    ringing_since = tuple(now - timedelta(seconds=1) for _ in range(ringing))
    used = ringing + waiting + on_call if lines_in_use is None else lines_in_use
    return PacingSnapshot(now, tuple(agents), ringing_since, waiting, used, cap, preview_ready)


def trained(clock: VirtualClock, answer_p: float = 0.3, cfg: PacingDefaults | None = None) -> PacingStats:
    """Stats that saw 100 attempts (answer_p of them answered after 10 s) and 100 wrap-ups of 30 s."""
    stats = PacingStats(cfg or PacingDefaults(warmup_attempts=30), clock, TZ)
    answered = round(100 * answer_p)
    for i in range(100):
        stats.observe_attempt(Outcome.ANSWERED if i < answered else Outcome.NO_ANSWER, 10.0 if i < answered else 20.0)
    for _ in range(100):
        stats.observe_transition(
            Transition("a", AgentState.WRAP_UP, AgentState.AVAILABLE, TransitionCause.DISPOSITION, T0, 30.0)
        )
        stats.observe_transition(
            Transition("a", AgentState.ON_CALL, AgentState.WRAP_UP, TransitionCause.HANGUP, T0, 90.0)
        )
    return stats


def clean_day(stats: PacingStats, answered: int, abandoned: int = 0) -> None:
    """``answered`` calls a person picked up (``abandoned`` of them abandoned), mixed 3:7 with no-answers
    so the measured answer rate stays at the trained 0.3."""
    for i in range(answered):
        stats.observe_attempt(Outcome.ABANDONED if i < abandoned else Outcome.ANSWERED, 10.0)
        for _ in range(3 if i % 3 == 0 else 2):
            stats.observe_attempt(Outcome.NO_ANSWER, 20.0)


@pytest.mark.parametrize(
    ("available", "ringing", "waiting", "expected"),
    [(0, 0, 0, 0), (3, 0, 0, 3), (5, 2, 0, 3), (5, 2, 1, 2), (2, 4, 0, 0)],
)
def test_progressive_dials_one_call_per_available_agent_not_yet_covered(
    available: int, ringing: int, waiting: int, expected: int
) -> None:
    d = ProgressivePacer().decide(snap(available=available, ringing=ringing, waiting=waiting))
    assert d.count == expected and d.limited_by is DialLimit.AGENTS


def test_progressive_and_preview_stop_at_the_line_cap() -> None:
    d = ProgressivePacer().decide(snap(available=6, on_call=2, lines_in_use=6, cap=8))
    assert (d.count, d.limited_by) == (2, DialLimit.LINES)
    assert PreviewPacer().decide(snap(preview_ready=3, lines_in_use=8)).count == 0


def test_preview_dials_once_per_accepted_preview_not_per_available_agent() -> None:
    assert PreviewPacer().decide(snap(available=5, preview_ready=2)).count == 2


def test_snapshot_refuses_negative_counts() -> None:
    with pytest.raises(CampaignError, match="waiting = -1"):
        PacingSnapshot(T0, (), (), -1, 0, 8)


def test_predictive_paces_like_progressive_until_warmed_up() -> None:
    stats = PacingStats(PacingDefaults(warmup_attempts=30), VirtualClock(T0), TZ)
    for _ in range(29):
        stats.observe_attempt(Outcome.NO_ANSWER, 15)
    pacer = PredictivePacer(stats, warmup_attempts=30)
    d = pacer.decide(snap(available=3))
    assert (d.count, d.limited_by) == (3, DialLimit.WARMUP)


def test_predictive_dials_ahead_when_the_day_is_clean() -> None:
    clock = VirtualClock(T0)
    stats = trained(clock)
    clean_day(stats, 200)
    assert stats.throttle() == 1.0
    pacer = PredictivePacer(stats, warmup_attempts=30)
    # Two free agents and one 25 s into a 30 s wrap-up: with answer rate ~0.3 that is several calls each.
    d = pacer.decide(snap(available=2, wrap_up=(25.0,), on_call=3, cap=20))
    assert d.count > 2 * 2
    # A wrap-up that ends soon counts; one that just started does not.
    assert (
        pacer.decide(snap(available=2, wrap_up=(25.0,), cap=20)).count
        > pacer.decide(snap(available=2, wrap_up=(1.0,), cap=20)).count
    )


def test_an_agent_counts_as_likely_to_be_free_as_answers_are_to_come_after_their_wrap_up_ends() -> None:
    # Answers come 4-20 s after the dial (30 of 100 calls), wrap-ups last 30 s; gain fixed at 1 and
    # no guard, to read the rule alone. The agent is chosen at the answer: an answer that comes while
    # the agent still writes up is abandoned, so an agent 13 s from free is worth the share of answers
    # that take 13 s or more, not a whole agent (as the mean ring of 12 s would say).
    cfg = PacingDefaults(gain_start=1.0, gain_min=1.0, gain_max=1.0, max_abandon_rate=1.0, warmup_attempts=30)
    stats = PacingStats(cfg, VirtualClock(T0), TZ)
    for i in range(30):
        stats.observe_attempt(Outcome.ANSWERED, 4 + 16 * i / 29)
    for _ in range(70):
        stats.observe_attempt(Outcome.NO_ANSWER, 20.0)
    for _ in range(100):
        stats.observe_transition(
            Transition("a", AgentState.WRAP_UP, AgentState.AVAILABLE, TransitionCause.DISPOSITION, T0, 30.0)
        )
    pacer = PredictivePacer(stats, 30)

    def dialed(seconds_left: float) -> int:
        return pacer.decide(snap(wrap_up=(30.0 - seconds_left,) * 10, cap=100)).count

    assert dialed(1) == 33  # ten agents surely free before any answer: 10 / 0.3
    # 3 of the 8 ring-time quantiles are 13 s or more: 10 x 3/8 agents, over 0.3.
    assert dialed(13) == 12
    assert dialed(19) == 4


def test_predictive_throttles_to_progressive_as_the_day_rate_nears_the_limit() -> None:
    fixed_gain = PacingDefaults(gain_start=1.0, gain_min=1.0, gain_max=1.0)  # isolate the guard from the controller
    results = []
    for abandoned in range(8):
        stats = trained(VirtualClock(T0), cfg=fixed_gain)
        clean_day(stats, 200, abandoned)  # 230 answered in all today
        d = PredictivePacer(stats, 30).decide(snap(available=3, cap=30))
        results.append((stats.throttle(), d.count, d.limited_by))
    throttles, counts = [r[0] for r in results], [r[1] for r in results]
    assert throttles == sorted(throttles, reverse=True) and counts == sorted(counts, reverse=True)
    assert results[0][0] == 1.0 and results[0][1] > 3
    # 4 of 230: one more would make 2.2 %, still a whole band (0.5 point) under the limit: full overdial.
    assert results[4][0] == 1.0
    # 5 of 230 is 2.2 %: one more would make 2.6 %, inside the band: already cut back.
    assert 0 < results[5][0] < 1.0 and results[5][2] is DialLimit.THROTTLED
    # 6 of 230: one more abandon would make 3 %, so no overdial at all: exactly progressive.
    assert results[6][0] == 0.0 and counts[6:] == [3, 3]


def test_the_guard_counts_customers_waiting_for_an_agent_as_abandoned_already() -> None:
    fixed_gain = PacingDefaults(gain_start=1.0, gain_min=1.0, gain_max=1.0)
    stats = trained(VirtualClock(T0), cfg=fixed_gain)
    clean_day(stats, 200, 4)  # 4 of 230: a clean enough day for full overdial
    pacer = PredictivePacer(stats, 30)
    assert stats.throttle() == 1.0 and pacer.decide(snap(available=6, cap=30)).count > 6
    # One customer waits (an answered call no agent took): it will be abandoned, so the day stands at
    # 5 of 231 before the next call, inside the band.
    assert 0 < stats.throttle(waiting=1) < 1.0
    # Two wait: 6 of 232 abandoned for sure, and one more would make 3 %: exactly progressive.
    assert stats.throttle(waiting=2) == 0.0
    d = pacer.decide(snap(available=6, waiting=2, cap=30))
    assert (d.count, d.limited_by) == (6 - 2, DialLimit.THROTTLED)


def test_a_bad_rolling_month_throttles_even_a_clean_day() -> None:
    clock = VirtualClock(T0)
    stats = trained(clock)
    clean_day(stats, 100, abandoned=5)  # yesterday: 5 of 130, nearly 4 %
    clock.advance(24 * 3600)
    clean_day(stats, 100)
    assert stats.tally_today().rate == 0
    assert stats.tally_rolling().rate == pytest.approx(5 / (30 + 100 + 100))  # trained() answered 30
    assert stats.throttle() < 1.0


def test_rolling_window_forgets_days_older_than_the_window() -> None:
    clock = VirtualClock(T0)
    stats = trained(clock, cfg=PacingDefaults(rolling_days=30))
    clean_day(stats, 100, abandoned=10)
    clock.advance(29 * 24 * 3600)
    clean_day(stats, 1)
    assert stats.tally_rolling().abandoned == 10
    clock.advance(24 * 3600)
    clean_day(stats, 1)
    assert stats.tally_rolling().abandoned == 0


def test_an_abandoned_call_cuts_the_gain_and_clean_answers_restore_it_at_the_target_rate() -> None:
    cfg = PacingDefaults(max_abandon_rate=0.03, abandon_margin=0.01)
    clock = VirtualClock(T0)
    stats = trained(clock, cfg=cfg)
    clean_day(stats, 300)  # a clean day: the guard allows full overdial
    start = stats.gain
    stats.observe_attempt(Outcome.ABANDONED, 10)
    assert stats.gain < start
    # At the 2 % target, one abandon is balanced by 49 answered calls dialed under full overdial.
    for _ in range(49):
        stats.observe_attempt(Outcome.ANSWERED, 10)
    assert stats.gain == pytest.approx(start, rel=1e-9)


def test_answer_probability_is_conditional_on_how_long_a_call_has_rung() -> None:
    stats = PacingStats(PacingDefaults(), VirtualClock(T0), TZ)
    for _ in range(30):
        stats.observe_attempt(Outcome.ANSWERED, 8.0)
    for _ in range(70):
        stats.observe_attempt(Outcome.NO_ANSWER, 25.0)
    stats.observe_attempt(Outcome.FAILED, 0.1)  # our own failure: not about customers
    assert stats.answer_rate == pytest.approx(0.3)
    assert stats.answer_probability(0) == pytest.approx(0.3)
    assert stats.answer_probability(10) == 0.0


def test_free_probability_uses_the_measured_wrap_up_and_talk_times() -> None:
    stats = trained(VirtualClock(T0))
    assert stats.free_probability(AgentState.AVAILABLE, 0, (10,)) == 1.0
    assert stats.free_probability(AgentState.PAUSED, 0, (10,)) == 0.0
    assert stats.free_probability(AgentState.WRAP_UP, 25, (10,)) == 1.0
    assert stats.free_probability(AgentState.WRAP_UP, 5, (10,)) == 0.0
    # A talk of 90 s needs the whole 30 s wrap-up after it: nothing within a 12 s horizon.
    assert stats.free_probability(AgentState.ON_CALL, 85, (12,)) == 0.0
    assert stats.free_probability(AgentState.ON_CALL, 85, (40,)) == 1.0


def test_make_pacer_returns_the_mode_asked_for() -> None:
    stats = PacingStats(PacingDefaults(), VirtualClock(T0), TZ)
    for mode in PacingMode:
        assert make_pacer(mode, stats, 30).mode is mode


@hsettings(max_examples=300, deadline=None)
@given(
    available=st.integers(0, 30),
    on_call=st.integers(0, 30),
    wrap_up=st.lists(st.floats(0, 200), max_size=20),
    ringing=st.integers(0, 30),
    waiting=st.integers(0, 5),
    cap=st.integers(0, 30),
    answer_p=st.sampled_from([0.05, 0.3, 0.9]),
    gain=st.floats(0.2, 3.0),
)
def test_predictive_never_exceeds_the_line_cap(
    available, on_call, wrap_up, ringing, waiting, cap, answer_p, gain
) -> None:
    clock = VirtualClock(T0)
    stats = trained(clock, answer_p, PacingDefaults(gain_start=gain, gain_min=0.2, gain_max=3.0))
    clean_day(stats, 500)
    s = snap(available=available, on_call=on_call, wrap_up=tuple(wrap_up), ringing=ringing, waiting=waiting, cap=cap)
    d = PredictivePacer(stats, 30).decide(s)
    assert 0 <= d.count <= max(0, cap - s.lines_in_use)
    assert d.count >= min(max(0, available - ringing - waiting), max(0, cap - s.lines_in_use))
