"""The wallboard websocket: a snapshot on connect, a new one when something changes; one broadcaster for all."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.campaigns.registry import RunnerRegistry
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.campaigns.stats import AbandonTally, PacingStats
from dialer.web.keys import BROADCASTER
from dialer.web.wallboard import Broadcaster, Snapshot, StoreSnapshotSource
from tests.campaigns.test_abandon_guard import day_of_calls
from tests.web.conftest import Login

_WAIT_S = 10.0  # generous: only bounds a hang, never measured


async def _next(ws) -> dict:  # type: ignore[no-untyped-def]
    message = await asyncio.wait_for(ws.receive_str(), _WAIT_S)
    return json.loads(message)


async def test_viewer_gets_a_snapshot_then_the_change(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], clock
) -> None:  # type: ignore[no-untyped-def]
    # The fixture adds the users after the console started: wait for a snapshot taken since (under load
    # the first one, without agent1, could still be the latest when the viewer connects).
    broadcaster = client.app[BROADCASTER]
    for _ in range(200):
        if broadcaster.latest is not None and broadcaster.latest.agents:
            break
        await asyncio.sleep(0.05)
    async with client.ws_connect("/wallboard/ws", headers=logins[Role.SUPERVISOR].headers()) as ws:
        first = await _next(ws)
        assert (first["outbound_in_use"], first["outbound_lines"]) == (0, 8)
        assert first["calls_today"] == 2 and first["answered_today"] == 2
        assert [a["agent"] for a in first["agents"]] == ["agent1", "agent2"]
        await dialer_app.attempts.create(call_id="live-1", direction=Direction.OUTBOUND, number="+8613800138000",
                                         created_at=clock.now(), agent="agent1")  # fmt: skip
        second = await _next(ws)
        assert second["outbound_in_use"] == 1
        # No campaign runner holds this call: the attempt in flight alone says the agent is on a call, since it started.
        assert second["agents"][:1] == [{"agent": "agent1", "activity": "in_call", "calls_today": 1, "state": "on_call",
                                     "since": "2026-11-29T01:00:00.000000Z", "reason": None}]  # fmt: skip


async def test_two_viewers_share_one_broadcaster(client: TestClient, logins: dict[Role, Login]) -> None:
    headers = logins[Role.SALES_MANAGER].headers()
    async with (
        client.ws_connect("/wallboard/ws", headers=headers) as a,
        client.ws_connect("/wallboard/ws", headers=headers) as b,
    ):
        assert (await _next(a))["at"] == (await _next(b))["at"]
        assert client.app[BROADCASTER].viewers == 2


async def test_a_foreign_origin_cannot_open_the_socket(client: TestClient, logins: dict[Role, Login]) -> None:
    resp = await client.get(
        "/wallboard/ws", headers={**logins[Role.SUPERVISOR].headers(), "Origin": "https://evil.example"}
    )
    assert resp.status == 403


def _snapshot(n: int) -> Snapshot:
    return Snapshot(
        at=datetime(2026, 11, 29, 1, 0, n, tzinfo=UTC), outbound_in_use=n, outbound_lines=8, inbound_in_use=0, inbound_lines=4,
        ami_connected=None, agents=(), campaigns=(), calls_today=n, answered_today=0, abandon_today=AbandonTally(0, 0),
        abandon_30d=AbandonTally(0, 0), follow_up_rate_month=None, invite_rate_month=None, deals_month=0, overdue_leads=0, disk=None,
    )  # fmt: skip


class _Counting:
    """A source that changes on every call and counts the calls."""

    def __init__(self, enough: int) -> None:
        self.calls = 0
        self._enough = enough
        self.enough_calls = asyncio.Event()  # set once ``enough`` snapshots have been taken

    async def snapshot(self) -> Snapshot:
        self.calls += 1
        if self.calls >= self._enough:
            self.enough_calls.set()
        return _snapshot(self.calls)


async def test_a_slow_viewer_keeps_only_the_newest_snapshot() -> None:
    source = _Counting(enough=5)
    broadcaster = Broadcaster(source, interval_s=0.0, viewer_queue=1)
    async with broadcaster.subscribe() as slow:
        task = asyncio.create_task(broadcaster.run())
        await source.enough_calls.wait()
        task.cancel()
        assert slow.qsize() == 1
        newest = slow.get_nowait()
        assert newest.outbound_in_use == source.calls  # every older snapshot was dropped, not queued
    assert broadcaster.viewers == 0


async def test_unchanged_snapshots_are_not_resent() -> None:
    class Same:
        async def snapshot(self) -> Snapshot:
            return _snapshot(1)

    broadcaster = Broadcaster(Same(), interval_s=0.0, viewer_queue=5)
    async with broadcaster.subscribe() as queue:
        task = asyncio.create_task(broadcaster.run())
        for _ in range(20):
            await asyncio.sleep(0)
        task.cancel()
        assert queue.qsize() == 1


async def test_abandonment_counts_abandoned_over_calls_a_person_picked_up(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], clock
) -> None:  # type: ignore[no-untyped-def]
    for call_id, outcome in (("ab-1", Outcome.ABANDONED), ("na-1", Outcome.NO_ANSWER)):
        await dialer_app.attempts.create(
            call_id=call_id, direction=Direction.OUTBOUND, number="+8613800138000", created_at=clock.now()
        )
        await dialer_app.attempts.finish(call_id, outcome=outcome, ended_at=clock.now())
    headers = logins[Role.QA].headers()
    for _ in range(200):  # the broadcaster picks the change up within a few intervals
        snap = await (await client.get("/api/wallboard", headers=headers)).json()
        if snap["calls_today"] == 4:
            break
        await asyncio.sleep(0.05)
    # 2 answered + 1 abandoned picked up; the unanswered call does not count.
    assert snap["abandon_today"] == {"answered": 3, "abandoned": 1, "rate": 1 / 3}
    assert snap["abandon_30d"]["abandoned"] == 1


async def test_each_line_in_use_says_what_its_call_does_and_since_when(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], clock
) -> None:  # type: ignore[no-untyped-def]
    """The handbook's board: the lines (8 out, 4 in) and what each is doing; numbers masked for the room."""
    start = clock.now()
    await dialer_app.attempts.create(call_id="out-1", direction=Direction.OUTBOUND, number="+8613800138000", created_at=start,
                                     campaign_id=None, agent=None)  # fmt: skip
    clock.advance(5)
    await dialer_app.attempts.create(
        call_id="in-1", direction=Direction.INBOUND, number="+8613900139000", created_at=clock.now()
    )
    clock.advance(3)
    await dialer_app.attempts.update_progress(
        "in-1", state=CallState.CONNECTED, connected_at=clock.now(), agent="agent1"
    )
    async with client.ws_connect("/wallboard/ws", headers=logins[Role.SUPERVISOR].headers()) as ws:
        frame = await _next(ws)
        while len(frame["lines"]) < 2 or frame["lines"][1]["state"] != "connected":
            frame = await _next(ws)
    assert frame["lines"] == [
        {"direction": "outbound", "number": "+86138****8000", "state": "pending", "since": "2026-11-29T01:00:00.000000Z",
         "agent": None, "campaign_id": None},
        {"direction": "inbound", "number": "+86139****9000", "state": "connected", "since": "2026-11-29T01:00:08.000000Z",
         "agent": "agent1", "campaign_id": None},
    ]  # fmt: skip
    page = await (await client.get("/wallboard", headers=logins[Role.SUPERVISOR].headers())).text()
    assert 'id="lines"' in page and "空闲" in page  # the free-line label travels with the table


async def test_the_wallboard_shows_the_abandonment_guards_own_figures(dialer_app: App, clock) -> None:  # type: ignore[no-untyped-def]
    """31 days of outbound calls, seen by a guard as they end: the wallboard's day and 30-day figures
    are the guard's (outbound only: an inbound caller who hung up in the queue is not the dialer's
    abandoned call; the window is the guard's local days, not the last 30 × 24 hours)."""
    guard = PacingStats(dialer_app.settings.campaigns.pacing, clock, dialer_app.settings.dealer.timezone)
    rng = random.Random(5)
    numbered = itertools.count()

    async def call(outcome: Outcome, direction: Direction = Direction.OUTBOUND) -> None:
        call_id = f"c-{next(numbered)}"
        await dialer_app.attempts.create(call_id=call_id, direction=direction, number="+8613800138000",
                                         created_at=clock.now())  # fmt: skip
        await dialer_app.attempts.finish(call_id, outcome=outcome, ended_at=clock.now())

    for _ in range(31):
        await day_of_calls(clock, call, rng, guard)
        await call(Outcome.ABANDONED, Direction.INBOUND)
    await day_of_calls(clock, call, rng, guard, next_day=False)  # today, still under way
    snapshot = await StoreSnapshotSource(dialer_app, RunnerRegistry()).snapshot()
    assert snapshot.abandon_today == guard.tally_today() and snapshot.abandon_today.answered > 0
    assert snapshot.abandon_30d == guard.tally_rolling() and snapshot.abandon_30d.abandoned > 0
