"""Inbound routing against a real Asterisk with SIPp callers (private lab, see labkit)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.leads.model import LeadSource
from dialer.inbound.queue import InboundQueue
from tests.inbound.conftest import QUEUE_AGENTS, World
from tests.inbound.labkit import call_in

pytestmark = pytest.mark.asterisk

AGENT2_LEAD = "+8613900000002"
UNKNOWN = "+8613900000077"
NOBODY = "+8613900000066"
AGENT2_OTHER = "+8613900000003"
# Six callers for four lines.
BURST = [f"+86139000001{n:02d}" for n in range(6)]
# Counted from the PBX's answer: leaves the queue time to ring a member even on a loaded machine.
TALK_MS = 6000


def national(e164: str) -> str:
    return "0" + e164[3:] if not e164.startswith("+861") else e164[3:]


def rms(wav: Path) -> float:
    out = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    line = next(x for x in out.splitlines() if x.startswith("RMS     amplitude"))
    return float(line.split(":")[1])


async def test_a_known_caller_reaches_the_owner_and_an_unknown_caller_becomes_a_lead(world: World) -> None:
    lead = await world.add_lead(AGENT2_LEAD, owner="agent2")

    status = await call_in(
        world.lab, world.settings, [national(AGENT2_LEAD), national(UNKNOWN)], TALK_MS, world.lab.layout.callers_rtp
    )
    await world.inbound.drain()

    assert status == 0
    attempts = {a.number: a for a in await world.attempts.recent()}
    known, unknown = attempts[AGENT2_LEAD], attempts[UNKNOWN]
    assert (known.direction, known.outcome, known.agent, known.lead_id) == (
        Direction.INBOUND,
        Outcome.ANSWERED,
        "agent2",
        lead.id,
    )
    assert unknown.outcome is Outcome.ANSWERED and unknown.agent != "agent2"
    new_lead = await world.leads.find_by_phone(UNKNOWN)
    assert new_lead is not None and new_lead.source is LeadSource.INBOUND and unknown.lead_id == new_lead.id
    pops = {p.number: p for p in world.screen_pops()}
    assert (pops[AGENT2_LEAD].agent, pops[AGENT2_LEAD].lead_id, pops[AGENT2_LEAD].new_lead) == (
        "agent2",
        lead.id,
        False,
    )
    assert (pops[UNKNOWN].agent, pops[UNKNOWN].lead_id, pops[UNKNOWN].new_lead) == (unknown.agent, new_lead.id, True)
    for attempt in (known, unknown):
        recording = await world.recordings.get_by_call(attempt.call_id)
        assert recording is not None, attempt
        assert rms(Path(attempt.recording)) > 0.01


async def test_a_caller_whose_owner_is_on_a_call_goes_to_the_queue(world: World) -> None:
    first = await world.add_lead(AGENT2_LEAD, owner="agent2")
    second = await world.add_lead(AGENT2_OTHER, owner="agent2", name="赵女士")

    # The second call arrives while agent2 still talks to the first caller.
    status = await call_in(world.lab, world.settings, [national(AGENT2_LEAD), national(AGENT2_OTHER)], TALK_MS,
                           world.lab.layout.callers_rtp, spacing_ms=2000)  # fmt: skip
    await world.inbound.drain()

    assert status == 0
    attempts = {a.lead_id: a for a in await world.attempts.recent()}
    assert (attempts[first.id].outcome, attempts[first.id].agent) == (Outcome.ANSWERED, "agent2")
    assert attempts[second.id].outcome is Outcome.ANSWERED and attempts[second.id].agent in QUEUE_AGENTS


async def test_six_callers_on_four_lines_four_are_served_and_two_hear_busy(world: World) -> None:
    status = await call_in(
        world.lab, world.settings, [national(n) for n in BURST], TALK_MS, world.lab.layout.callers_rtp
    )
    await world.inbound.drain()

    assert status == 0
    attempts = [a for a in await world.attempts.recent() if a.number in BURST]
    assert len(attempts) == len(BURST)
    served = [a for a in attempts if a.outcome is Outcome.ANSWERED]
    busy = [a for a in attempts if a.outcome is Outcome.FAILED]
    assert len(served) == 4 and len(busy) == 2
    assert all(a.hangup_cause == 17 for a in busy)
    for attempt in served:
        assert await world.recordings.get_by_call(attempt.call_id) is not None
        assert rms(Path(attempt.recording)) > 0.01
    # Nothing is lost: the two refused callers became leads with a callback.
    for attempt in busy:
        lead = await world.leads.find_by_phone(attempt.number)
        assert lead is not None and lead.callback_at is not None


async def test_with_nobody_in_the_queue_the_caller_hears_the_message_and_gets_a_callback(world: World) -> None:
    queue = InboundQueue(world.ami)
    for agent in QUEUE_AGENTS:
        await queue.remove(agent)
    try:
        status = await call_in(world.lab, world.settings, [national(NOBODY)], TALK_MS, world.lab.layout.callers_rtp)
        await world.inbound.drain()
    finally:
        for agent in QUEUE_AGENTS:
            await queue.add(agent)

    assert status == 0
    (attempt,) = [a for a in await world.attempts.recent() if a.number == NOBODY]
    assert (attempt.outcome, attempt.agent, attempt.detail) == (
        Outcome.ABANDONED,
        None,
        "no agent answered (queue JOINEMPTY)",
    )
    lead = await world.leads.find_by_phone(NOBODY)
    assert lead is not None and lead.callback_at is not None
    assert world.screen_pops() == []
