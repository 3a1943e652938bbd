"""The outbox: written before sent, delayed by outages, never sent twice, ambiguous submits held."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from dialer.clock import VirtualClock
from dialer.domain.sms.driver import DriverEvent, OutPart, Receipt
from dialer.domain.sms.errors import GatewayUnavailable, MessageRefused, SubmitAmbiguous, SubmitRejected
from dialer.settings import Settings
from dialer.sms.factory import build_service
from dialer.sms.service import SmsService
from dialer.store.database import Database

from .conftest import e164, mobile

LONG = "您好，" + "这是一条很长的中文短信。" * 8  # > 70 characters: two parts


class ScriptedDriver:
    """A driver that answers each submit from a script: an SMSC id, or an exception to raise."""

    def __init__(self, *answers: str | Exception, prefix: str = "id") -> None:
        self.answers = list(answers)
        self.prefix = prefix
        self.submitted: list[OutPart] = []
        self.connected = True

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to release."""

    async def wait_connected(self, timeout: float) -> bool:
        return self.connected

    async def submit(self, part: OutPart) -> str:
        answer = self.answers.pop(0) if self.answers else f"{self.prefix}-{len(self.submitted)}"
        if isinstance(answer, Exception):
            raise answer
        self.submitted.append(part)
        return answer

    async def events(self) -> AsyncIterator[DriverEvent]:
        """No receipts arrive by themselves: tests hand them to the service directly."""
        await asyncio.Event().wait()
        yield Receipt("", False, "", "", None)


def with_driver(db: Database, settings: Settings, clock: VirtualClock, driver: ScriptedDriver) -> SmsService:
    return build_service(db, settings, clock, driver)  # type: ignore[arg-type]


async def test_every_part_is_submitted_once_with_its_header_and_reference(db, settings, clock) -> None:
    driver = ScriptedDriver()
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text=LONG)
    assert q.parts == 2 and (await svc.store.get(q.message_id)).status == "queued"  # type: ignore[union-attr]
    assert await svc.send_ready() == 2
    assert await svc.send_ready() == 0  # nothing left: never sent twice
    assert [(p.seq, p.total, p.client_ref, p.coding) for p in driver.submitted] == [
        (1, 2, q.message_id, 8),
        (2, 2, q.message_id, 8),
    ]
    assert driver.submitted[0].payload[:6] == bytes((5, 0, 3, q.message_id & 0xFF, 2, 1))
    assert (await svc.store.get(q.message_id)).status == "sent"  # type: ignore[union-attr]
    await svc.on_receipt(Receipt("id-0", True, "DELIVRD", e164(1), q.message_id))
    assert (await svc.store.get(q.message_id)).status == "sent"  # type: ignore[union-attr]
    await svc.on_receipt(Receipt("id-1", True, "DELIVRD", e164(1), q.message_id))
    assert (await svc.store.get(q.message_id)).status == "delivered"  # type: ignore[union-attr]


async def test_gateway_outage_delays_without_counting_an_attempt(db, settings, clock) -> None:
    driver = ScriptedDriver(GatewayUnavailable("down"))
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text="您好")
    assert await svc.send_ready() == 0
    msg = await svc.store.get(q.message_id)
    assert msg is not None and (msg.status, msg.attempts, msg.last_error) == ("queued", 0, "down")
    assert await svc.send_ready() == 1 and len(driver.submitted) == 1


async def test_refusals_back_off_and_end_dead(db, settings, clock) -> None:
    settings = replace(settings, sms=replace(settings.sms, max_attempts=2))
    driver = ScriptedDriver(SubmitRejected(0x58), SubmitRejected(0x58))
    svc = build_service(db, settings, clock, driver)  # type: ignore[arg-type]
    svc._rng = random.Random(1)
    q = await svc.queue(mobile(1), text="您好")
    await svc.send_ready()
    msg = await svc.store.get(q.message_id)
    assert msg is not None and msg.status == "queued" and msg.attempts == 1 and msg.not_before > clock.now()
    assert await svc.send_ready() == 0  # backing off
    clock.advance(settings.sms.backoff_base_s)
    await svc.send_ready()
    msg = await svc.store.get(q.message_id)
    assert msg is not None and msg.status == "dead" and "0x00000058" in (msg.last_error or "")


async def test_ambiguous_submit_is_held_and_reconciled_by_its_receipt(db, settings, clock) -> None:
    driver = ScriptedDriver(SubmitAmbiguous("link lost mid-submit"))
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text="您好")
    await svc.send_ready()
    msg = await svc.store.get(q.message_id)
    assert msg is not None and (msg.status, msg.ambiguous) == ("sending", True)
    assert await svc.send_ready() == 0 and driver.submitted == []  # not resent blindly
    # The gateway did take it: its receipt (unknown id, our number + reference) adopts the part.
    assert await svc.on_receipt(Receipt("smsc-77", True, "DELIVRD", e164(1), q.message_id)) == q.message_id
    msg = await svc.store.get(q.message_id)
    assert msg is not None and (msg.status, msg.ambiguous) == ("delivered", False)
    clock.advance(settings.sms.ambiguous_resend_after_s or 0)
    assert await svc.requeue_stale_ambiguous() == 0 and await svc.send_ready() == 0


async def test_unconfirmed_ambiguous_part_is_resent_once_after_the_configured_wait(db, settings, clock) -> None:
    driver = ScriptedDriver(SubmitAmbiguous("no answer"))
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text="您好")
    await svc.send_ready()
    clock.advance((settings.sms.ambiguous_resend_after_s or 0) - 1)
    assert await svc.requeue_stale_ambiguous() == 0
    clock.advance(1)
    assert await svc.requeue_stale_ambiguous() == 1
    assert await svc.send_ready() == 1 and len(driver.submitted) == 1
    msg = await svc.store.get(q.message_id)
    assert msg is not None and (msg.status, msg.ambiguous) == ("sent", False)


async def test_strict_at_most_once_keeps_ambiguous_parts_held(db, settings, clock) -> None:
    settings = replace(settings, sms=replace(settings.sms, ambiguous_resend_after_s=None))
    svc = build_service(db, settings, clock, ScriptedDriver(SubmitAmbiguous("no answer")))  # type: ignore[arg-type]
    await svc.queue(mobile(1), text="您好")
    await svc.send_ready()
    clock.advance(timedelta(days=2).total_seconds())
    assert await svc.requeue_stale_ambiguous() == 0
    assert (await svc.store.status_counts())["ambiguous"] == 1


async def test_crash_between_marking_sending_and_the_answer_is_recovered_as_ambiguous(db, settings, clock) -> None:
    svc = with_driver(db, settings, clock, ScriptedDriver())
    q = await svc.queue(mobile(1), text="您好")
    await svc.store.mark_sending(q.message_id, 1, clock.now())  # ... and the process died here
    restarted = with_driver(db, settings, clock, driver := ScriptedDriver())
    assert await restarted.recover() == 1
    assert await restarted.send_ready() == 0 and driver.submitted == []
    assert [m.id for m in await restarted.store.messages(ambiguous=True)] == [q.message_id]


async def test_outside_the_window_a_message_waits_for_the_morning(db, settings, clock) -> None:
    clock.advance(timedelta(hours=13, minutes=30).total_seconds())  # 22:30 Beijing
    driver = ScriptedDriver()
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text="您好")
    assert q.not_before.astimezone(svc.rules.tz).strftime("%d %H:%M") == "30 08:00"
    assert await svc.send_ready() == 0
    clock.set(q.not_before)
    assert await svc.send_ready() == 1


async def test_same_cause_is_queued_once(db, settings, clock) -> None:
    svc = with_driver(db, settings, clock, ScriptedDriver())
    first = await svc.queue(mobile(1), text="您好", dedupe_key="k1")
    again = await svc.queue(mobile(1), text="您好", dedupe_key="k1")
    assert (again.message_id, again.created, first.created) == (first.message_id, False, True)


async def test_promotional_caps_and_bad_numbers_are_refused(db, settings, clock, import_customers) -> None:
    await import_customers(1)
    svc = with_driver(db, settings, clock, ScriptedDriver())
    values = {"customer": "张先生", "model": "迈锐宝XL"}
    await svc.queue(mobile(0), template="repurchase", values=values)
    with pytest.raises(MessageRefused, match="daily cap"):
        await svc.queue(mobile(0), template="repurchase", values=values)
    await svc.queue(mobile(0), text="您的车辆保养提醒")  # not promotional: not capped
    with pytest.raises(MessageRefused, match="cannot send to '12345'"):
        await svc.queue("12345", text="x")


async def test_two_workers_never_submit_the_same_part(db, settings, clock) -> None:
    first, second = ScriptedDriver(prefix="a"), ScriptedDriver(prefix="b")
    a, b = with_driver(db, settings, clock, first), with_driver(db, settings, clock, second)
    await a.queue(mobile(1), text=LONG)
    await asyncio.gather(a.send_ready(), b.send_ready())
    assert sorted(p.seq for p in first.submitted + second.submitted) == [1, 2]


async def test_a_half_sent_message_that_meets_the_window_end_keeps_its_sent_part(db, settings, clock) -> None:
    driver = ScriptedDriver("id-0", GatewayUnavailable("down"))
    svc = with_driver(db, settings, clock, driver)
    q = await svc.queue(mobile(1), text=LONG)
    await svc.send_ready()
    clock.advance(timedelta(hours=12).total_seconds())  # 21:00 Beijing: the window has closed
    assert await svc.send_ready() == 0
    assert [p.status for p in await svc.store.parts(q.message_id)] == ["sent", "queued"]
    clock.advance(timedelta(hours=11).total_seconds())  # 08:00 next day
    assert await svc.send_ready() == 1
    assert [p.seq for p in driver.submitted] == [1, 2]


async def test_a_receipt_that_overtakes_the_submit_answer_is_kept(db, settings, clock) -> None:
    # A fast SMSC sends the receipt right behind submit_sm_resp: the receipt (matched by number and
    # reference, the id not stored yet) can land before the part is marked sent, and must not be undone.
    svc: SmsService

    class Overtaken(ScriptedDriver):
        async def submit(self, part: OutPart) -> str:
            smsc_id = await super().submit(part)
            assert await svc.on_receipt(Receipt(smsc_id, True, "DELIVRD", part.to, part.client_ref)) == part.message_id
            return smsc_id

    svc = with_driver(db, settings, clock, Overtaken())
    q = await svc.queue(mobile(1), text="您好")
    assert await svc.send_ready() == 1
    msg = await svc.store.get(q.message_id)
    assert msg is not None and msg.status == "delivered"
    assert [p.status for p in await svc.store.parts(q.message_id)] == ["delivered"]
