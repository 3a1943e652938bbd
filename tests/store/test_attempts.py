from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.attempts import Attempt, AttemptRepository
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.errors import IntegrityError

NUMBER = "+8613800138000"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def outbound(
    repo: AttemptRepository,
    call_id: str,
    created: float = 0,
    *,
    lead_id: int | None = None,
    campaign_id: int | None = None,
    agent: str | None = None,
) -> Attempt:
    return await repo.create(
        call_id=call_id,
        direction=Direction.OUTBOUND,
        number=NUMBER,
        created_at=at(created),
        lead_id=lead_id,
        campaign_id=campaign_id,
        agent=agent,
    )


async def test_full_life_round_trips(attempts: AttemptStore) -> None:
    created = await outbound(attempts, "call-1", lead_id=7, campaign_id=3)
    assert created.state is CallState.PENDING and created.in_flight and created.id > 0
    assert await attempts.get("call-1") == created

    assert await attempts.mark_started("call-1", at(0.1))
    assert await attempts.update_progress("call-1", state=CallState.RINGING, dial_status="RINGING")
    assert await attempts.update_progress("call-1", state=CallState.ANSWERED, answered_at=at(5))
    assert await attempts.update_progress("call-1", state=CallState.CONNECTED, connected_at=at(6), agent="agent01")
    assert await attempts.finish(
        "call-1",
        outcome=Outcome.ANSWERED,
        ended_at=at(95),
        hangup_cause=16,
        dial_status="ANSWER",
        detail="agent connected",
        recording="/var/recordings/call-1.wav",
    )

    got = await attempts.get("call-1")
    assert got == Attempt(
        id=created.id,
        call_id="call-1",
        direction=Direction.OUTBOUND,
        number=NUMBER,
        lead_id=7,
        campaign_id=3,
        agent="agent01",
        state=CallState.ENDED,
        outcome=Outcome.ANSWERED,
        hangup_cause=16,
        dial_status="ANSWER",
        detail="agent connected",
        created_at=T0,
        started_at=at(0.1),
        answered_at=at(5),
        connected_at=at(6),
        ended_at=at(95),
        recording="/var/recordings/call-1.wav",
    )
    assert not got.in_flight


async def test_times_in_other_zones_are_stored_as_the_same_instant(attempts: AttemptStore) -> None:
    shanghai = T0.astimezone(timezone(timedelta(hours=8)))
    await attempts.create(call_id="c", direction=Direction.OUTBOUND, number=NUMBER, created_at=shanghai)
    got = await attempts.get("c")
    assert got is not None and got.created_at == T0 and got.created_at.tzinfo == UTC


async def test_unknown_call_id(attempts: AttemptStore) -> None:
    assert await attempts.get("nope") is None
    assert not await attempts.mark_started("nope", at(1))
    assert not await attempts.update_progress("nope", state=CallState.RINGING)
    assert not await attempts.finish("nope", outcome=Outcome.FAILED, ended_at=at(1))


async def test_reused_call_id_is_refused_with_its_name(attempts: AttemptStore) -> None:
    await outbound(attempts, "dup")
    # SQLite names the column, PostgreSQL the constraint.
    with pytest.raises(
        IntegrityError, match=r"call_id='dup'.*(UNIQUE constraint failed: attempts\.call_id|attempts_call_id_key)"
    ):
        await outbound(attempts, "dup")


@pytest.mark.parametrize("number", ["13800138000", "+0123456789", "+86 138 0013 8000", "+12", "+1234567890123456"])
async def test_non_e164_number_is_refused(attempts: AttemptStore, number: str) -> None:
    with pytest.raises(IntegrityError, match="attempts_number_e164"):
        await attempts.create(call_id="c", direction=Direction.OUTBOUND, number=number, created_at=T0)


async def test_only_inbound_may_lack_a_number(attempts: AttemptStore) -> None:
    with pytest.raises(IntegrityError, match="attempts_outbound_number"):
        await attempts.create(call_id="out", direction=Direction.OUTBOUND, number=None, created_at=T0)
    withheld = await attempts.create(call_id="in", direction=Direction.INBOUND, number=None, created_at=T0)
    assert await attempts.get("in") == withheld


async def test_bad_values_are_refused_before_the_database(attempts: AttemptStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await attempts.create(call_id="c", direction=Direction.OUTBOUND, number=NUMBER, created_at=datetime(2026, 1, 5))
    with pytest.raises(ValueError, match="sideways"):
        await attempts.create(call_id="c", direction="sideways", number=NUMBER, created_at=T0)  # type: ignore[arg-type]
    await outbound(attempts, "c")
    with pytest.raises(ValueError, match="set by finish"):
        await attempts.update_progress("c", state=CallState.ENDED)
    with pytest.raises(ValueError, match="'hung'"):
        await attempts.finish("c", outcome="hung", ended_at=at(1))  # type: ignore[arg-type]
    assert (await attempts.get("c")) == (await attempts.in_flight())[0]


async def test_mark_started_keeps_first_time_and_later_state(attempts: AttemptStore) -> None:
    await outbound(attempts, "c")
    # Events can overtake the write that follows the Originate.
    assert await attempts.update_progress("c", state=CallState.RINGING)
    assert await attempts.mark_started("c", at(1))
    assert await attempts.mark_started("c", at(2))
    got = await attempts.get("c")
    assert got is not None and got.state is CallState.RINGING and got.started_at == at(1)

    await outbound(attempts, "d")
    await attempts.mark_started("d", at(1))
    got = await attempts.get("d")
    assert got is not None and got.state is CallState.ORIGINATING


async def test_progress_keeps_first_answer_and_known_fields(attempts: AttemptStore) -> None:
    await outbound(attempts, "c")
    await attempts.update_progress("c", state=CallState.ANSWERED, answered_at=at(5), hangup_cause=0, agent="a1")
    await attempts.update_progress("c", state=CallState.ANSWERED, answered_at=at(7))
    got = await attempts.get("c")
    assert got is not None
    assert (got.answered_at, got.hangup_cause, got.agent) == (at(5), 0, "a1")


async def test_finish_is_idempotent_and_never_overwrites(attempts: AttemptStore) -> None:
    await outbound(attempts, "c")
    await attempts.update_progress("c", state=CallState.RINGING, dial_status="RINGING", hangup_cause=19)
    assert await attempts.finish("c", outcome=Outcome.NO_ANSWER, ended_at=at(30))
    first = await attempts.get("c")
    assert first is not None and first.hangup_cause == 19 and first.dial_status == "RINGING"

    assert not await attempts.finish(
        "c", outcome=Outcome.UNKNOWN, ended_at=at(99), hangup_cause=1, detail="reconciled", recording="/x.wav"
    )
    assert not await attempts.update_progress("c", state=CallState.CONNECTED, agent="late")
    assert await attempts.get("c") == first


async def test_in_flight_and_counts(attempts: AttemptStore) -> None:
    await outbound(attempts, "o1", created=1)
    await outbound(attempts, "o2", created=2)
    await attempts.create(call_id="i1", direction=Direction.INBOUND, number=NUMBER, created_at=at(3))
    await outbound(attempts, "o3", created=4)
    await attempts.finish("o2", outcome=Outcome.BUSY, ended_at=at(5))

    assert [a.call_id for a in await attempts.in_flight()] == ["o1", "i1", "o3"]
    assert await attempts.count_in_flight(Direction.OUTBOUND) == 2
    assert await attempts.count_in_flight(Direction.INBOUND) == 1
    assert await attempts.count_in_flight() == 3


async def test_list_is_newest_first_with_paging_and_since(attempts: AttemptStore) -> None:
    for n in range(5):
        await outbound(attempts, f"c{n}", created=n * 60)
    assert [a.call_id for a in await attempts.recent()] == ["c4", "c3", "c2", "c1", "c0"]
    assert [a.call_id for a in await attempts.recent(limit=2, offset=1)] == ["c3", "c2"]
    assert [a.call_id for a in await attempts.recent(since=at(120))] == ["c4", "c3", "c2"]
    with pytest.raises(ValueError, match="offset = -1"):
        await attempts.recent(offset=-1)


async def test_in_flight_attempts_survive_a_restart(db_path: Path) -> None:
    async with await Database.open(db_path, clock=VirtualClock()) as db:
        repo = AttemptStore(db)
        await outbound(repo, "live")
        assert await repo.mark_started("live", at(1))
        await outbound(repo, "done")
        await repo.finish("done", outcome=Outcome.BUSY, ended_at=at(2))
    async with await Database.open(db_path, clock=VirtualClock()) as db:
        repo = AttemptStore(db)
        assert [a.call_id for a in await repo.in_flight()] == ["live"]
        assert await repo.finish("live", outcome=Outcome.UNKNOWN, ended_at=at(60), detail="dialer restarted")
        assert await repo.in_flight() == []


async def test_methods_join_an_outer_transaction(db: Database, attempts: AttemptStore) -> None:
    async def failing_transaction() -> None:
        async with db.write():
            await outbound(attempts, "c")
            assert await attempts.get("c") is not None  # visible inside the transaction
            await attempts.finish("c", outcome=Outcome.FAILED, ended_at=at(1))
            raise RuntimeError("the service's next step failed")

    with pytest.raises(RuntimeError, match="the service's next step failed"):
        await failing_transaction()
    assert await attempts.get("c") is None


async def test_json_export(attempts: AttemptStore) -> None:
    await outbound(attempts, "c", agent="agent02")
    await attempts.update_progress("c", state=CallState.ANSWERED, answered_at=at(4.5))
    await attempts.finish("c", outcome=Outcome.EARLY_HANGUP, ended_at=at(5), hangup_cause=16)
    got = await attempts.get("c")
    assert got is not None
    data = json.loads(json.dumps(got.to_json_dict()))
    assert data["number"] == NUMBER and data["outcome"] == "early_hangup" and data["hangup_cause"] == 16
    assert data["state"] == "ended" and data["direction"] == "outbound" and data["agent"] == "agent02"
    assert data["answered_at"] == "2026-01-05T09:00:04.500000Z"
    assert data["started_at"] is None and data["recording"] is None
    assert data["id"] == got.id and data["ended_at"] == "2026-01-05T09:00:05.000000Z"


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("SELECT * FROM attempts WHERE outcome IS NULL ORDER BY created_at, id", "attempts_in_flight"),
        ("SELECT count(*) FROM attempts WHERE outcome IS NULL AND direction = 'outbound'", "attempts_in_flight"),
        ("SELECT * FROM attempts WHERE number = '+8613800138000' ORDER BY created_at DESC", "attempts_by_number"),
        ("SELECT * FROM attempts WHERE lead_id = 7 ORDER BY created_at", "attempts_by_lead"),
        (
            "SELECT * FROM attempts WHERE created_at >= '2026-01-05' ORDER BY created_at DESC LIMIT 5",
            "attempts_by_created",
        ),
    ],
)
async def test_lookups_use_their_index(db: Database, query: str, index: str) -> None:
    async with db.read() as r:
        if db.dialect.is_postgresql:
            # An empty table is cheapest to scan: forbid that, and the index must be usable.
            await r.fetchval("SET LOCAL enable_seqscan = off")
            plan = " | ".join(row[0] for row in await r.fetchall(f"EXPLAIN {query}"))
        else:
            plan = " | ".join(row["detail"] for row in await r.fetchall(f"EXPLAIN QUERY PLAN {query}"))
    assert index in plan


async def test_inbound_waits_are_counted_from_arrival_to_an_agent_in_milliseconds(
    attempts: AttemptStore,
) -> None:
    # The seconds between two stored instants are each backend's own arithmetic (db.dialect).
    for call_id, wait in (("in1", 4.5), ("in2", 20.25), ("in3", None)):
        await attempts.create(call_id=call_id, direction=Direction.INBOUND, number=NUMBER, created_at=at(0))
        if wait is not None:
            await attempts.update_progress(call_id, state=CallState.CONNECTED, connected_at=at(wait), agent="agent1")
    assert await attempts.inbound_waits_since(at(0)) == (2, 12.375)
    assert await attempts.inbound_waits_since(at(5)) == (1, 20.25)
    assert await attempts.inbound_wait_buckets([5.0, 20.25, 60.0]) == ((1, 2, 2, 2), 24.75)
