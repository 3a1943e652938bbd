"""Scoring stored recordings and the monthly per-agent report, through the real store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import Month
from dialer.domain.qa.errors import RecordingUnavailable, ScoreError
from dialer.domain.qa.form import QaForm, parse_form
from dialer.domain.qa.report import ScoredCall, build_report, latest_per_recording
from dialer.domain.qa.scoring import ItemScore
from dialer.qa.service import QaService
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.qa import QaStore
from dialer.store.recordings import NewRecording, RecordingStore

# Month bounds are the dealer's local months: 16:30 UTC on 30 Nov is already December in Shanghai.
NOV_30_LATE = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 Shanghai
DEC_1_EARLY = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 Shanghai on 1 Dec


@pytest.fixture
def form() -> QaForm:
    return parse_form(
        {
            "version": "t1",
            "item": [
                {"id": "greeting", "label": "问好", "weight": 50, "max": 2},
                {"id": "purpose", "label": "说明来电目的", "weight": 50, "applies_to": ["outbound"]},
                {"id": "three_rings", "label": "三声内接听", "weight": 0.5, "applies_to": ["inbound"]},
            ],
            "total": 100.5,
        },
        "t",
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOV_30_LATE)


async def _recording(db: Database, call_id: str, agent: str, direction: Direction = Direction.OUTBOUND) -> int:
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    await AttemptStore(db).create(
        call_id=call_id, direction=direction, number="+8613800138000", created_at=at, agent=agent
    )
    new = NewRecording(call_id=call_id, lead_id=None, campaign_id=None, agent=agent, direction=direction,
                       path=f"2026/11/20/{call_id}.wav", started_at=at, duration_s=60.0, size_bytes=960044, sha256="b" * 64)  # fmt: skip
    return (await RecordingStore(db).add(new, at=at, actor="test")).id


@pytest.fixture
def service(db: Database, form: QaForm, clock: VirtualClock) -> QaService:
    return QaService(
        form=form, scores=QaStore(db), recordings=RecordingStore(db), clock=clock, timezone="Asia/Shanghai"
    )


async def test_score_is_stored_with_its_items(service: QaService, db: Database) -> None:
    rid = await _recording(db, "c1", "agent1")
    stored = await service.score(rid, scorer="li", values={"greeting": 1, "purpose": 1}, comment="语速偏快")
    assert stored.score == 75.0 and stored.agent == "agent1" and stored.form_version == "t1"
    [again] = await QaStore(db).for_recording(rid)
    assert again == stored


async def test_inbound_recordings_are_scored_on_inbound_items(service: QaService, db: Database) -> None:
    rid = await _recording(db, "in1", "agent1", Direction.INBOUND)
    with pytest.raises(ScoreError, match="purpose"):
        await service.score(rid, scorer="li", values={"greeting": 2, "purpose": 1})
    stored = await service.score(rid, scorer="li", values={"greeting": 2, "three_rings": 0})
    assert stored.score == round(100 * 50 / 50.5, 2)


async def test_unknown_recordings_and_bad_values_store_nothing(service: QaService, db: Database) -> None:
    with pytest.raises(RecordingUnavailable):
        await service.score(42, scorer="li", values={"greeting": 1, "purpose": 1})
    rid = await _recording(db, "c1", "agent1")
    with pytest.raises(ScoreError):
        await service.score(rid, scorer="li", values={"greeting": 9, "purpose": 1})
    assert await QaStore(db).for_recording(rid) == []


async def test_monthly_report_per_agent_in_local_months(service: QaService, db: Database, clock: VirtualClock) -> None:
    r1, r2, r3 = [await _recording(db, f"c{n}", agent) for n, agent in ((1, "agent1"), (2, "agent1"), (3, "agent2"))]
    await service.score(r1, scorer="li", values={"greeting": 0, "purpose": 0})
    await service.score(r1, scorer="wang", values={"greeting": 2, "purpose": 1})  # re-scored: this one counts
    await service.score(r2, scorer="li", values={"greeting": 1, "purpose": 0})
    await service.score(r3, scorer="li", values={"greeting": 2, "purpose": 0})
    clock.set(DEC_1_EARLY)
    await service.score(r3, scorer="li", values={"greeting": 0, "purpose": 0})  # December in Shanghai

    november = await service.report(Month(2026, 11))
    [a1, a2] = november.agents
    assert (a1.agent, a1.calls, a1.average, a1.lowest, a1.highest) == ("agent1", 2, 62.5, 25.0, 100.0)
    assert [(i.item_id, i.calls, i.achieved) for i in a1.items] == [("greeting", 2, 0.75), ("purpose", 2, 0.5)]
    assert (a2.agent, a2.calls, a2.average) == ("agent2", 1, 50.0)
    assert november.form_versions == ("t1",)

    only = await service.report(Month(2026, 11), agent="agent2")
    assert [a.agent for a in only.agents] == ["agent2"] and only.to_json()["agent"] == "agent2"
    december = await service.report(Month(2026, 12))
    assert [(a.agent, a.average) for a in december.agents] == [("agent2", 0.0)]
    assert (await service.report(Month(2026, 10))).agents == ()


def _call(score_id: int, recording_id: int, agent: str | None, score: float) -> ScoredCall:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    return ScoredCall(score_id, recording_id, agent, "li", score, at, "t1", (ItemScore("greeting", 1, 1, 1.0),))


def test_latest_scoring_per_recording_wins_whatever_the_order() -> None:
    calls = [_call(5, 1, "a", 10.0), _call(3, 1, "a", 90.0), _call(4, 2, "a", 50.0)]
    assert [c.score_id for c in latest_per_recording(calls)] == [4, 5]


def test_calls_without_an_agent_are_listed_last() -> None:
    report = build_report("2026-11", [_call(1, 1, None, 40.0), _call(2, 2, "zz", 60.0), _call(3, 3, "aa", 80.0)])
    assert [a.agent for a in report.agents] == ["aa", "zz", None]
    assert report.to_json()["agents"][2]["agent"] is None
