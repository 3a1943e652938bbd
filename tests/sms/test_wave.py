"""Done means: a 500-customer repurchase wave through a real SMSC on loopback.

Segmentation is checked at the SMSC (what went over the wire), receipts update the
outbox, T and 退订 opt the customer out of calls and SMS, "1" becomes a priority call,
and a reply rate below the threshold hands the non-repliers to calling.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.leads.deadlines import DueRules, compute_due
from dialer.domain.sms.errors import MessageRefused
from dialer.sms.service import SmsService, WaveSelection
from dialer.sms.simulator import SimScript, read_ledger
from dialer.tasks import TaskHealth

from .conftest import e164, mobile, until

N = 500
INTERESTED = range(10)
OPT_OUT_T = range(10, 15)
OPT_OUT_ZH = range(15, 20)
CHATTY = range(20, 23)
UNDELIVERABLE = (498, 499)


def script() -> SimScript:
    replies = {e164(i)[1:]: "1" for i in INTERESTED}
    replies |= {e164(i)[1:]: "T" for i in OPT_OUT_T}
    replies |= {e164(i)[1:]: "退订" for i in OPT_OUT_ZH}
    replies |= {e164(i)[1:]: "谢谢，再说吧" for i in CHATTY}
    return SimScript(replies, frozenset(e164(i)[1:] for i in UNDELIVERABLE))


async def test_repurchase_wave_of_500(
    sending: SmsService, import_customers, smsc, clock: VirtualClock, tmp_path: Path
) -> None:
    await import_customers(N)
    await import_customers(5, first=N, car="英朗")  # another model: not in the target group
    await import_customers(5, first=N + 5, bought="2024-03-01")  # car too young: not in the target group
    await smsc(script())
    report = await sending.start_wave(
        "11月置换", "repurchase", WaveSelection("迈锐宝XL", ("科鲁兹",), min_car_age_years=3), min_reply_rate=0.05
    )
    assert (report.selected, report.queued, report.parts) == (N, N, 2 * N)

    stop = asyncio.Event()
    worker = asyncio.create_task(sending.run(stop, TaskHealth()))

    async def settled() -> bool:
        counts = await sending.store.status_counts(report.wave_id)
        replies = await sending.store.inbound()
        parts = await sending.store.part_counts()
        smsc_took = sum(1 for r in read_ledger(tmp_path / "smsc.jsonl") if r["kind"] == "submit")
        if (
            counts["queued"] == 0
            and 0 < counts["ambiguous"]
            and parts.get("delivered", 0) + parts.get("failed", 0) == smsc_took
        ):
            # A submit timed out on a loaded machine and the SMSC never got it: no receipt will come.
            # Time passes; the held part is resent once (what the receipts already settled stays).
            clock.advance(sending._settings.sms.ambiguous_resend_after_s or 0)
        return counts["delivered"] + counts["failed"] == N and len(replies) == 23

    async def state() -> object:
        held = await sending.store.messages(ambiguous=True)
        return (
            await sending.store.status_counts(),
            await sending.store.part_counts(),
            len(await sending.store.inbound()),
            [(m.id, m.last_error, await sending.store.parts(m.id)) for m in held],
        )

    try:
        await until(settled, state=state)
    finally:
        stop.set()
        await worker

    # What went over the wire: every message exactly twice (2 parts), UCS-2, concatenated, 67 + rest.
    submits = [r for r in read_ledger(tmp_path / "smsc.jsonl") if r["kind"] == "submit"]
    assert len(submits) == 2 * N
    assert Counter((r["to"], r["seq"]) for r in submits) == Counter(
        {(e164(i)[1:], s): 1 for i in range(N) for s in (1, 2)}
    )
    assert {(r["coding"], r["udhi"], r["total"]) for r in submits} == {(8, True, 2)}
    message = (await sending.store.messages(wave_id=report.wave_id, limit=1))[0]
    by_part = {r["seq"]: r["text"] for r in submits if r["to"] == message.to_e164[1:]}
    assert len(by_part[1]) == 67 and by_part[1] + by_part[2] == message.body
    assert message.body.startswith("【DCC汽车】") and message.body.endswith("回T退订") and "迈锐宝XL" in message.body

    counts = await sending.store.status_counts(report.wave_id)
    assert (counts["delivered"], counts["failed"], counts["ambiguous"]) == (N - 2, 2, 0)

    # Opt-outs: consent stored on the lead (calls honour it: never due again) and every later SMS refused.
    rules = DueRules(sending._settings.leads, sending.rules.tz)
    for i in [*OPT_OUT_T, *OPT_OUT_ZH]:
        lead = await sending.leads.find_by_phone(e164(i))
        assert lead is not None and lead.opt_out_at is not None
        assert compute_due(lead, rules, clock.now()) is None
        with pytest.raises(MessageRefused, match="suppression list"):
            await sending.queue(mobile(i), text="您好")
    still = await sending.leads.find_by_phone(e164(30))
    assert still is not None and still.opt_out_at is None

    # Interested repliers are called first, at once.
    tasks = await sending.store.call_tasks()
    interested_ids = {(await sending.leads.find_by_phone(e164(i))).id for i in INTERESTED}  # type: ignore[union-attr]
    assert {(t.lead_id, t.priority, t.reason) for t in tasks} == {
        (lead, 100, "sms_interested") for lead in interested_ids
    }

    # 23 of 500 replied: 4.6 % < 5 %. After the 72 h window the non-repliers go to calling.
    clock.advance(timedelta(hours=71).total_seconds())
    assert await sending.tick_waves() == []
    clock.advance(timedelta(hours=1).total_seconds())
    [(wave_id, decided)] = await sending.tick_waves()
    assert wave_id == report.wave_id and decided.reply_rate == pytest.approx(23 / N) and decided.handed_off == N - 23
    tasks = await sending.store.call_tasks()
    assert [t.reason for t in tasks[:10]] == ["sms_interested"] * 10  # called first
    handed = {t.lead_id for t in tasks if t.reason == "cadence_handoff"}
    assert len(handed) == N - 23 and not handed & interested_ids
    opted = {(await sending.leads.find_by_phone(e164(i))).id for i in [*OPT_OUT_T, *OPT_OUT_ZH]}  # type: ignore[union-attr]
    assert not handed & opted
    assert (await sending.store.wave(report.wave_id)).phase == "handed_off"  # type: ignore[union-attr]
