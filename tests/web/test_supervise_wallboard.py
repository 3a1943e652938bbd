"""The supervisor's view of inbound: callers waiting now and today's waits on the wallboard and in /metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from tests.web.conftest import Login


async def _inbound(app: App, clock: VirtualClock, call_id: str, arrived_s_ago: float, waited_s: float | None) -> None:
    """An inbound call that arrived ``arrived_s_ago`` and was taken by agent1 after ``waited_s`` (None: still waiting)."""
    arrived = clock.now() - timedelta(seconds=arrived_s_ago)
    await app.attempts.create(call_id=call_id, direction=Direction.INBOUND, number="+8613800138000", created_at=arrived)
    await app.attempts.update_progress(call_id, state=CallState.ANSWERED, answered_at=arrived)
    if waited_s is not None:
        await app.attempts.update_progress(
            call_id, state=CallState.CONNECTED, connected_at=arrived + timedelta(seconds=waited_s), agent="agent1"
        )


async def _snapshot_where(client: TestClient, login: Login, ready: Any) -> dict[str, Any]:
    """The wallboard snapshot once the broadcaster picked the seeded calls up (bounded polling, not timing)."""
    for _ in range(400):
        snap = await (await client.get("/api/wallboard", headers=login.headers())).json()
        if ready(snap):
            return snap
        await asyncio.sleep(0.025)
    raise AssertionError(f"the wallboard never showed the seeded calls: {snap}")


async def test_waiting_callers_and_todays_waits(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], clock: VirtualClock
) -> None:
    await _inbound(dialer_app, clock, "in-a", 60, 12.5)  # taken after 12.5 s, still talking
    await _inbound(dialer_app, clock, "in-b", 50, 7.5)
    await dialer_app.attempts.finish("in-b", outcome=Outcome.ANSWERED, ended_at=clock.now())
    await _inbound(dialer_app, clock, "in-c", 30.4, None)  # in the queue for 30.4 s
    await _inbound(dialer_app, clock, "in-d", 3, None)
    snap = await _snapshot_where(client, logins[Role.SUPERVISOR], lambda s: s["inbound_waits"]["waiting"] == 2)
    assert snap["inbound_waits"] == {
        "waiting": 2,
        "longest_wait_s": 30,
        "connected_today": 2,
        "average_wait_today_s": 10.0,
    }
    assert snap["inbound_in_use"] == 3

    text = await (await client.get("/metrics")).text()
    assert "dialer_inbound_waiting 2.0" in text
    assert "dialer_inbound_longest_wait_seconds 30.0" in text
    for line in ('dialer_inbound_queue_wait_seconds_bucket{le="5.0"} 0.0', 'dialer_inbound_queue_wait_seconds_bucket{le="10.0"} 1.0',
                 'dialer_inbound_queue_wait_seconds_bucket{le="15.0"} 2.0', 'dialer_inbound_queue_wait_seconds_bucket{le="+Inf"} 2.0',
                 "dialer_inbound_queue_wait_seconds_count 2.0", "dialer_inbound_queue_wait_seconds_sum 20.0"):  # fmt: skip
        assert line in text, line


async def test_nobody_waiting_reads_as_nothing_not_zero_seconds(client: TestClient, logins: dict[Role, Login]) -> None:
    snap = await _snapshot_where(client, logins[Role.QA], lambda s: True)
    assert snap["inbound_waits"] == {
        "waiting": 0,
        "longest_wait_s": None,
        "connected_today": 0,
        "average_wait_today_s": None,
    }
    text = await (await client.get("/metrics")).text()
    assert "dialer_inbound_queue_wait_seconds_count 0.0" in text and "dialer_inbound_longest_wait_seconds 0.0" in text
    page = await (await client.get("/wallboard", headers=logins[Role.QA].headers())).text()
    assert 'id="tile-inbound_waiting"' in page and 'id="tile-inbound_wait_today"' in page
