"""A node's recordings folder is its dealer's (docs/recording.md): in a dealer group's store, reconcile,
retention and the last purge of one dealer's node never take another dealer's recordings (whose files
are on that dealer's node) for missing or expired. Runs on both backends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, AmbiguousName, DealerScope, scope_of_name
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.recordings import NewRecording, RecordingStore
from tests.recording.conftest import FinishedCall, write_wav


async def test_one_dealers_node_leaves_another_dealers_recordings_alone(
    db: Database, registry: RecordingRegistry, store: RecordingStore, finished_call: FinishedCall,
    clock: VirtualClock, tmp_path: Path,
) -> None:  # fmt: skip
    mine = await registry.register_finished(await finished_call("main-call"))
    b = await DealerStore(db).ensure("b", "B 店", clock.now())
    settings_b = Settings(base_dir=str(tmp_path / "b"), recording=RecordingSettings(dir="recordings", compress="none"))
    attempts_b = AttemptStore(db, dealer_id=b.id)
    store_b = RecordingStore(db, dealer_id=b.id)
    node_b = RecordingRegistry(store=store_b, attempts=attempts_b, settings=settings_b, clock=clock)
    wav = node_b.root / "2026/11/29/b-call.wav"
    write_wav(wav, 2.0)
    await attempts_b.create(call_id="b-call", direction=Direction.OUTBOUND, number="+8613900000009",
                            created_at=clock.now(), agent="b_agent")  # fmt: skip
    await attempts_b.update_progress("b-call", state=CallState.CONNECTED, connected_at=clock.now())
    await attempts_b.finish("b-call", outcome=Outcome.ANSWERED, ended_at=clock.now(), recording=str(wav))
    attempt = await attempts_b.get("b-call")
    assert attempt is not None
    theirs = await node_b.register_finished(attempt)
    assert mine is not None and theirs is not None and theirs.dealer_id == b.id

    # Main's node does not find b's file in its folder, and must not call b's recording missing.
    report = await registry.reconcile(fix=True)
    assert report.clean and not report.missing
    assert (await store.get(theirs.id)) == theirs
    assert (await node_b.reconcile()).clean

    clock.advance(timedelta(days=181).total_seconds())
    assert [r.id for r in await registry.purge_expired()] == [mine.id]
    assert not (await store.get(theirs.id)).deleted and wav.exists()  # type: ignore[union-attr]
    assert await node_b.last_purged() is None  # main's deletion is not b's node's to show
    assert [r.id for r in await node_b.purge_expired()] == [theirs.id] and not wav.exists()
    last_main, last_b = await registry.last_purged(), await node_b.last_purged()
    assert last_main is not None and last_b is not None
    assert (last_main.recording_id, last_b.recording_id) == (mine.id, theirs.id)


async def test_a_group_wide_search_by_agent_names_the_agents_dealer(
    db: Database, registry: RecordingRegistry, store: RecordingStore, finished_call: FinishedCall, clock: VirtualClock
) -> None:
    mine = await registry.register_finished(await finished_call("main-call", agent="agent1"))
    b = await DealerStore(db).ensure("b", "B 店", clock.now())
    await AttemptStore(db, dealer_id=b.id).create(
        call_id="b-call", direction=Direction.OUTBOUND, number="+8613900000009", created_at=clock.now(), agent="agent1"
    )
    theirs = await RecordingStore(db, dealer_id=b.id).add(
        NewRecording(call_id="b-call", lead_id=None, campaign_id=None, agent="agent1", direction=Direction.OUTBOUND,
                     path="b/b-call.wav", started_at=clock.now(), duration_s=1.0, size_bytes=1, sha256="0" * 64),
        at=clock.now(), actor="test",
    )  # fmt: skip
    assert mine is not None and theirs.dealer_id == b.id
    group = await DealerStore(db).all()

    async def found(name: str, dealers: DealerScope) -> list[int]:
        scope, agent = scope_of_name(name, dealers, group)
        return [r.id for r in await store.search(agent=agent, dealers=scope)]

    assert await found("b/agent1", EVERY_DEALER) == [theirs.id]
    assert await found("main/agent1", EVERY_DEALER) == [mine.id]
    assert await found("agent1", DealerScope.group_wide(b.id)) == [theirs.id]
    assert await found("agent1", DealerScope.of(MAIN_DEALER_ID)) == [mine.id]
    with pytest.raises(AmbiguousName):
        await found("agent1", EVERY_DEALER)
