"""The push worker against a REAL aiohttp server on 127.0.0.1, in virtual time."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.errors import DossError
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.doss.outbox import OutboxStatus, Verdict, backoff_s, verdict_for_status
from dialer.domain.leads.model import LeadState
from dialer.doss.push import PushWorker
from dialer.settings import DossSettings
from tests.conftest import START, free_port

TOKEN = "s3cret-token"


class FakeDoss:
    """A DOSS bridge that dedups by Idempotency-Key, as the contract asks; records every request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/changes"
        self.status = 201  # what a healthy bridge answers a new key with
        self.accepted: dict[str, dict] = {}
        self.requests: list[tuple[str, int]] = []  # (key, status answered)
        self.resent_after_ack: list[str] = []
        self._acked: set[str] = set()
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, text="bad token")
        if key in self._acked:
            self.resent_after_ack.append(key)
        status = self.status
        if 200 <= status < 300:
            body = await request.json()
            assert body["idempotency_key"] == key
            if key in self.accepted:
                status = 200  # a repeat: acknowledged, not applied again
            else:
                self.accepted[key] = body
            self._acked.add(key)
        self.requests.append((key, status))
        return web.Response(status=status, text="busy" if status == 503 else "ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/changes", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def server():
    fake = FakeDoss(free_port())
    yield fake
    await fake.stop()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def settings_for(server: FakeDoss, **overrides) -> DossSettings:
    base = DossSettings(endpoint=server.url, token=TOKEN, timeout_s=5.0, idle_poll_s=600.0)
    return dataclasses.replace(base, **overrides)


async def queue_changes(service, make_leads, n: int) -> list[int]:
    """One booked visit per lead: n pending outbox rows."""
    ids = []
    for lead_id in await make_leads(n):
        form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=START + timedelta(days=2))
        ids.append((await service.record_disposition(lead_id, None, Outcome.ANSWERED, form, "王芳")).outbox_id)
    return ids


def test_verdicts():
    assert [verdict_for_status(s) for s in (200, 201, 204)] == [Verdict.DELIVERED] * 3
    assert [verdict_for_status(s) for s in (400, 401, 404, 409, 422)] == [Verdict.DEAD] * 5
    assert [verdict_for_status(s) for s in (408, 429, 500, 502, 503, 504, 302)] == [Verdict.RETRY] * 7


def test_backoff_grows_is_capped_and_jittered():
    # step = min(3600, 30 * 2**(n-1)); delay = step/2 + rand * step/2
    assert backoff_s(1, 30, 3600, lambda: 0.0) == 15.0
    assert backoff_s(1, 30, 3600, lambda: 1.0) == 30.0
    assert backoff_s(4, 30, 3600, lambda: 0.5) == 240 * 0.75  # step 240
    assert backoff_s(20, 30, 3600, lambda: 1.0) == 3600.0  # capped
    assert backoff_s(5000, 30, 3600, lambda: 0.0) == 1800.0  # no float overflow
    with pytest.raises(ValueError, match="backoff starts after the first failure"):
        backoff_s(0, 30, 3600, lambda: 0.0)


async def test_an_hour_of_outage_then_up_loses_nothing_and_duplicates_nothing(
    service, make_leads, outbox, server, session, clock
):
    ids = await queue_changes(service, make_leads, 12)
    outage_end = clock.now() + timedelta(hours=1)
    half_time = clock.now() + timedelta(minutes=30)
    stop = asyncio.Event()

    async def virtual_sleep(seconds: float) -> None:
        # 0-30 min: nothing listens (connection refused); 30-60 min: 503; then healthy.
        clock.advance(seconds)
        if clock.now() >= half_time and server._runner is None:
            server.status = 503
            await server.start()
        if clock.now() >= outage_end:
            server.status = 201
        counts = await outbox.counts()
        if counts[OutboxStatus.PENDING] == 0:
            stop.set()

    worker = PushWorker(outbox, settings_for(server), clock, session, sleep=virtual_sleep, rand=lambda: 0.5)
    await asyncio.wait_for(worker.run(stop), timeout=60)

    assert clock.now() >= outage_end
    entries = [await outbox.get(i) for i in ids]
    assert all(e.status is OutboxStatus.DELIVERED for e in entries)
    assert all(e.attempts > 1 for e in entries)  # every one of them failed during the outage
    keys = {e.idempotency_key for e in entries}
    assert set(server.accepted) == keys  # zero lost
    assert any(status == 503 for _, status in server.requests)  # the 503 phase really happened
    assert sum(e.attempts for e in entries) > len(server.requests)  # and so did the refused connections
    assert server.resent_after_ack == []  # a delivered change is never sent again
    assert [k for k, status in server.requests if status in (200, 201)] == sorted(
        keys, key=[e.idempotency_key for e in entries].index
    )  # exactly one acknowledged request per change, in outbox order


async def test_crash_between_accept_and_mark_resends_with_same_key(
    service, make_leads, outbox, server, session, clock, monkeypatch
):
    ids = await queue_changes(service, make_leads, 3)
    await server.start()
    real_mark = outbox.mark_delivered

    async def crash_on_second(entry_id, at):
        if entry_id == ids[1]:
            raise RuntimeError("power cut")
        return await real_mark(entry_id, at)

    monkeypatch.setattr(outbox, "mark_delivered", crash_on_second)
    worker = PushWorker(outbox, settings_for(server), clock, session)
    with pytest.raises(RuntimeError, match="power cut"):
        await worker.run_once()
    monkeypatch.setattr(outbox, "mark_delivered", real_mark)

    # "Restart": a new worker finds row 2 still pending and sends it again, same key.
    report = await PushWorker(outbox, settings_for(server), clock, session).run_once()
    assert (report.delivered, report.retried, report.dead) == (2, 0, 0)
    entries = [await outbox.get(i) for i in ids]
    assert all(e.status is OutboxStatus.DELIVERED for e in entries)
    second = entries[1].idempotency_key
    assert server.resent_after_ack == [second]  # the one harmless repeat...
    assert [s for k, s in server.requests if k == second] == [201, 200]  # ...acknowledged as a duplicate
    assert len(server.accepted) == 3  # and applied once


async def test_client_error_is_dead_at_once(service, make_leads, outbox, server, session, clock):
    (entry_id,) = await queue_changes(service, make_leads, 1)
    await server.start()
    worker = PushWorker(outbox, settings_for(server, token="wrong"), clock, session)
    assert (await worker.run_once()).dead == 1
    entry = await outbox.get(entry_id)
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.DEAD, 1, "HTTP 401: bad token")
    assert [e.id for e in await outbox.dead_letters()] == [entry_id]


@pytest.mark.parametrize("status", [429, 408, 500])
async def test_retryable_answers_back_off(service, make_leads, outbox, server, session, clock, status):
    (entry_id,) = await queue_changes(service, make_leads, 1)
    server.status = status
    await server.start()
    worker = PushWorker(outbox, settings_for(server), clock, session, rand=lambda: 1.0)
    assert (await worker.run_once()).retried == 1
    entry = await outbox.get(entry_id)
    # first failure: step 30 s, rand 1.0 -> 30 s
    assert (entry.status, entry.attempts, entry.next_attempt_at) == (
        OutboxStatus.PENDING,
        1,
        clock.now() + timedelta(seconds=30),
    )
    assert (await worker.run_once()).tried == 0  # not due yet


async def test_dead_after_max_attempts_then_manual_retry_delivers(service, make_leads, outbox, server, session, clock):
    (entry_id,) = await queue_changes(service, make_leads, 1)
    server.status = 503
    await server.start()
    worker = PushWorker(outbox, settings_for(server, max_attempts=3), clock, session, rand=lambda: 1.0)
    verdicts = []
    for _ in range(3):
        report = await worker.run_once()
        verdicts.append((report.retried, report.dead))
        clock.advance(3600)
    assert verdicts == [(1, 0), (1, 0), (0, 1)]
    assert (await outbox.get(entry_id)).status is OutboxStatus.DEAD

    server.status = 201
    assert await outbox.retry(entry_id, clock.now())
    assert not await outbox.retry(entry_id, clock.now())  # no longer dead
    assert (await worker.run_once()).delivered == 1
    entry = await outbox.get(entry_id)
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.DELIVERED, 1, None)


async def test_changes_of_one_lead_go_in_order(service, leads, make_leads, outbox, server, session, clock):
    (lead_id,) = await make_leads(1)
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=START + timedelta(days=2))
    first = (await service.record_disposition(lead_id, None, Outcome.ANSWERED, form, "王芳")).outbox_id
    clock.advance(60)
    second = (await service.record_milestone(lead_id, LeadState.VISITED, "李顾问")).outbox_id
    server.status = 503
    await server.start()
    worker = PushWorker(outbox, settings_for(server), clock, session, rand=lambda: 0.0)
    await worker.run_once()
    # the visit waits behind the failed invitation, even though it is due
    assert [(k, s) for k, s in server.requests] == [((await outbox.get(first)).idempotency_key, 503)]
    assert (await outbox.get(second)).attempts == 0


def test_worker_needs_an_endpoint(outbox, clock):
    with pytest.raises(DossError, match=re.escape("doss.endpoint is not set")):
        PushWorker(outbox, DossSettings(), clock, session=None)  # type: ignore[arg-type]
