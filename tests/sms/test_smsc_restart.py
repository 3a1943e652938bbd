"""The SMSC killed mid-wave and restarted: every message reaches it exactly once, none is lost.

The SMSC runs as its own process and gets SIGKILL while the outbox is sending. Parts
that were marked 'sending' but got no answer are held (never blindly resent) and
reconciled by the receipts the restarted SMSC sends for what it had accepted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from dialer.clock import VirtualClock
from dialer.sms.service import SmsService, WaveSelection
from dialer.sms.simulator import read_ledger
from dialer.tasks import TaskHealth

from .conftest import e164, spawn_smsc, until

N = 500


async def test_kill_the_smsc_mid_wave(
    sending: SmsService, import_customers, clock: VirtualClock, port: int, tmp_path: Path
) -> None:
    ledger = tmp_path / "smsc.jsonl"
    await import_customers(N)
    report = await sending.start_wave("kill", "repurchase", WaveSelection("迈锐宝XL"))
    assert report.queued == N

    def submits() -> list[dict]:
        return [r for r in read_ledger(ledger) if r["kind"] == "submit"]

    proc = await spawn_smsc(port, ledger)
    stop = asyncio.Event()
    worker = asyncio.create_task(sending.run(stop, TaskHealth()))
    try:

        async def some_sent() -> bool:
            return len(submits()) >= 300

        await until(some_sent)
        proc.kill()
        await proc.wait()
        at_kill = len(submits())
        assert at_kill < 2 * N  # really mid-wave
        # While the SMSC is down nothing is lost: messages wait in the outbox.
        await asyncio.sleep(0.5)
        counts = await sending.store.status_counts()
        assert counts["queued"] + counts["sending"] > 0 and counts["dead"] == 0

        proc = await spawn_smsc(port, ledger)

        async def receipts_in() -> bool:
            """Every part the SMSC accepted has its receipt here (ambiguous ones reconciled by it)."""
            parts = await sending.store.part_counts()
            waiting = (await sending.store.status_counts())["queued"]
            return parts.get("delivered", 0) == len(submits()) and waiting == 0

        async def state() -> object:
            held = await sending.store.messages(ambiguous=True)
            return (
                await sending.store.part_counts(),
                await sending.store.status_counts(),
                len(submits()),
                [(m.id, m.last_error, await sending.store.parts(m.id)) for m in held],
            )

        await until(receipts_in, limit_s=60, state=state)
        # What is still held was never accepted: after the configured wait it is resent, once.
        held = (await sending.store.status_counts())["ambiguous"]
        clock.advance(sending._settings.sms.ambiguous_resend_after_s or 0)

        async def all_delivered() -> bool:
            return (await sending.store.status_counts())["delivered"] == N

        await until(all_delivered, limit_s=60, state=state)
    finally:
        stop.set()
        await worker
        proc.kill()
        await proc.wait()

    per_part = Counter((r["to"], r["seq"]) for r in submits())
    assert per_part == Counter({(e164(i)[1:], s): 1 for i in range(N) for s in (1, 2)})
    assert (await sending.store.status_counts())["ambiguous"] == 0
    assert held <= sending._settings.sms.smpp_window  # at most the submits in flight at the kill
