"""Transfers on the real PBX ([dcc-room], [dcc-consult], [dcc-transfer]; docs/telephony.md): a manual call's
customer is handed from agent1 to agent2, attended and blind, and the call's one recording covers both
parts. The lab's SIPp phones answer at once and talk until hung up; the customer talks 60 s.

A lab of our own (ports shifted by :data:`OFFSET`) so the dialplan is this worktree's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dialer.app import App, open_app
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.handovers import HandoverKind
from dialer.domain.calls.outcome import Outcome
from dialer.lab.lab import Lab
from dialer.phone import normalize
from dialer.settings import Settings
from dialer.telephony.transfer import TransferAction, TransferRefused
from tests.conftest import settings_beside

pytestmark = pytest.mark.asterisk

# Ports of this test's lab: the session lab's plus this (SIP 18360, AMI 18338, RTP 63000-63999).
OFFSET = 3300
TALKS = "13800000003"  # answers after 2 s, talks 60 s: longer than any of these calls
# A limit that only keeps a broken run from hanging; nothing here measures speed.
LIMIT_S = 30.0


@pytest.fixture(scope="module")
def transfer_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = settings_beside(tmp_path_factory.mktemp("transfer-lab"), OFFSET)
    lab = Lab(settings)
    lab.up()
    try:
        yield settings
    finally:
        lab.down()


async def connected_call(app: App, agent: str) -> tuple[str, asyncio.Task[Attempt]]:
    """A manual call from ``agent`` to the talking customer, once the two are connected."""
    assert app.calls is not None
    placed: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        app.calls.dial(normalize(TALKS), agent=agent, agent_first=True, on_attempt=placed.set_result)
    )
    call_id = (await placed).call_id
    # Real time bounds the waits on the real PBX's call.
    async with asyncio.timeout(LIMIT_S):
        while app.calls.parties(call_id) is None:  # noqa: ASYNC110 - nothing to await: the call service has no event for it
            await asyncio.sleep(0.1)
    return call_id, task


async def channel_of(app: App, endpoint: str) -> str:
    """The live channel of ``endpoint``'s phone, once it is up."""
    assert app.ami is not None
    async with asyncio.timeout(LIMIT_S):
        while True:
            up = [c.channel for c in await app.ami.core_show_channels() if c.channel.startswith(f"PJSIP/{endpoint}-")]
            if up:
                return up[-1]
            await asyncio.sleep(0.1)


async def until_done(app: App, call_id: str, action: TransferAction, target: str | None = None) -> datetime:
    """Do ``action`` once the PBX lets it (the consulted phone must have answered); when it was done."""
    assert app.transfers is not None
    async with asyncio.timeout(LIMIT_S):
        while True:
            try:
                await app.transfers.act(call_id, action, target=target, actor="test")
                return app.clock.now()
            except TransferRefused as exc:
                if exc.code != "state":
                    raise
            await asyncio.sleep(0.2)


def seconds_of(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True).stdout)


def tail_rms(path: Path, seconds: float) -> float:
    """The loudness of the recording's last ``seconds``: speech, not the silence of an empty room."""
    stat = subprocess.run(
        ["sox", str(path), "-n", "trim", f"-{seconds}", "stat"], capture_output=True, text=True, check=True
    ).stderr
    return float(next(line for line in stat.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


async def recording_of(app: App, attempt: Attempt) -> Path:
    """The call's recording as stored (compressed once registered)."""
    assert app.calls is not None
    await app.calls.drain()
    found = (await app.recordings.current_files([attempt]))[attempt.call_id]
    assert found is not None, "the call has no recording"
    return Path(found)


async def test_an_attended_transfer_keeps_one_recording_of_both_parts(transfer_lab: Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(
        transfer_lab, store=dataclasses.replace(transfer_lab.store, path=str(tmp_path / "d.db"))
    )
    async with open_app(settings) as app:
        assert app.transfers is not None and app.ami is not None
        call_id, call = await connected_call(app, "agent1")
        await asyncio.sleep(2)  # agent1 and the customer talk
        await app.transfers.act(call_id, TransferAction.HOLD, target=None, actor="test")
        await app.transfers.act(call_id, TransferAction.RESUME, target=None, actor="test")
        await app.transfers.act(call_id, TransferAction.CONSULT, target="agent2", actor="test")
        handed = await until_done(app, call_id, TransferAction.COMPLETE)
        await asyncio.sleep(3)  # agent2 and the customer talk
        # agent2 hangs up: the customer, alone in the room, is let go, and the call ends.
        await app.ami.hangup(await channel_of(app, "agent2"))
        async with asyncio.timeout(LIMIT_S):
            attempt = await call
        handovers = await app.transfers.handovers(call_id)
        recording = await recording_of(app, attempt)
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, "agent1")
    assert [(h.kind, h.from_party, h.to_party) for h in handovers] == [(HandoverKind.ATTENDED, "agent1", "agent2")]
    assert attempt.connected_at and attempt.ended_at
    # One file from the connect to the end: agent1's part, the wait, and agent2's part (its start may lag the
    # answer on a loaded machine: the span is checked with the slack of the other transfer tests).
    assert seconds_of(recording) >= (attempt.ended_at - attempt.connected_at).total_seconds() - 1.5
    assert (attempt.ended_at - handed).total_seconds() >= 2.5
    assert seconds_of(recording) >= (attempt.ended_at - handed).total_seconds() + 1.0  # more than agent2's part
    assert tail_rms(recording, 2.0) > 0.01, "agent2's part is silent"


async def test_a_blind_transfer_rings_the_colleague_from_the_customer_s_channel(
    transfer_lab: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        transfer_lab, store=dataclasses.replace(transfer_lab.store, path=str(tmp_path / "d.db"))
    )
    async with open_app(settings) as app:
        assert app.transfers is not None and app.ami is not None
        call_id, call = await connected_call(app, "agent1")
        await asyncio.sleep(2)
        with pytest.raises(TransferRefused) as wrong:
            await app.transfers.act(call_id, TransferAction.BLIND, target="13800000001", actor="test")
        assert wrong.value.code == "target"  # a number is never a target: no transfer reaches the trunk
        await app.transfers.act(call_id, TransferAction.BLIND, target="agent2", actor="test")
        handed = app.clock.now()
        await asyncio.sleep(3)
        await app.ami.hangup(await channel_of(app, "agent2"))
        async with asyncio.timeout(LIMIT_S):
            attempt = await call
        handovers = await app.transfers.handovers(call_id)
        recording = await recording_of(app, attempt)
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, "agent1")
    assert [(h.kind, h.from_party, h.to_party) for h in handovers] == [(HandoverKind.BLIND, "agent1", "agent2")]
    assert attempt.connected_at and attempt.ended_at
    assert seconds_of(recording) >= (attempt.ended_at - attempt.connected_at).total_seconds() - 1.5
    assert (attempt.ended_at - handed).total_seconds() >= 2.5
    assert tail_rms(recording, 2.0) > 0.01, "agent2's part is silent"


async def test_a_3_way_call_goes_on_when_the_agent_leaves_and_ends_with_the_last_colleague(
    transfer_lab: Settings, tmp_path: Path
) -> None:
    """The room's rules on the real PBX: agent2 joins agent1 and the customer (and the customer is held and
    resumed first); agent1 hangs up and the customer stays with agent2; agent2 hangs up and, left alone, the
    customer is let go ([dcc-room-left]): the call ends."""
    settings = dataclasses.replace(
        transfer_lab, store=dataclasses.replace(transfer_lab.store, path=str(tmp_path / "d.db"))
    )
    async with open_app(settings) as app:
        assert app.transfers is not None and app.ami is not None
        call_id, call = await connected_call(app, "agent1")
        held = await app.transfers.act(call_id, TransferAction.HOLD, target=None, actor="test")
        assert held.held
        with pytest.raises(TransferRefused) as early:
            await app.transfers.act(call_id, TransferAction.COMPLETE, target=None, actor="test")
        assert early.value.code == "state"  # nothing to complete: no consultation
        await app.transfers.act(call_id, TransferAction.CONFERENCE, target="agent2", actor="test")
        agent1 = await channel_of(app, "agent1")
        await channel_of(app, "agent2")
        await asyncio.sleep(2)  # the three talk
        await app.ami.hangup(agent1)
        await asyncio.sleep(2)
        assert not call.done(), "the customer was let go with agent2 still in the room"
        await app.ami.hangup(await channel_of(app, "agent2"))
        async with asyncio.timeout(LIMIT_S):
            attempt = await call
        handovers = await app.transfers.handovers(call_id)
        recording = await recording_of(app, attempt)
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, "agent1")
    assert [(h.kind, h.from_party, h.to_party) for h in handovers] == [(HandoverKind.CONFERENCE, "agent1", "agent2")]
    assert attempt.connected_at and attempt.ended_at
    assert seconds_of(recording) >= (attempt.ended_at - attempt.connected_at).total_seconds() - 1.5
    assert tail_rms(recording, 1.5) > 0.01, "agent2's part is silent"


async def test_a_campaign_call_s_customer_is_handed_over_blind(transfer_lab: Settings, tmp_path: Path) -> None:
    """A campaign call's customer side is Local;1 (it carries the recording): redirected to the colleague's
    phone, the recording goes on; agent2 hangs up and the call ends."""
    settings = dataclasses.replace(
        transfer_lab, store=dataclasses.replace(transfer_lab.store, path=str(tmp_path / "d.db"))
    )
    async with open_app(settings) as app:
        assert app.transfers is not None and app.ami is not None and app.calls is not None
        placed: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        call = asyncio.ensure_future(app.calls.dial(normalize(TALKS), agent="agent1", on_attempt=placed.set_result))
        call_id = (await placed).call_id
        async with asyncio.timeout(LIMIT_S):
            while app.calls.parties(call_id) is None:  # noqa: ASYNC110 - nothing to await: the call service has no event for it
                await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        await app.transfers.act(call_id, TransferAction.BLIND, target="agent2", actor="test")
        handed = app.clock.now()
        await asyncio.sleep(3)
        await app.ami.hangup(await channel_of(app, "agent2"))
        async with asyncio.timeout(LIMIT_S):
            attempt = await call
        handovers = await app.transfers.handovers(call_id)
        recording = await recording_of(app, attempt)
    assert (attempt.outcome, attempt.agent) == (Outcome.ANSWERED, "agent1")
    assert [(h.kind, h.from_party, h.to_party) for h in handovers] == [(HandoverKind.BLIND, "agent1", "agent2")]
    assert attempt.connected_at and attempt.ended_at
    assert seconds_of(recording) >= (attempt.ended_at - attempt.connected_at).total_seconds() - 1.5
    assert (attempt.ended_at - handed).total_seconds() >= 2.5
    assert tail_rms(recording, 2.0) > 0.01, "agent2's part is silent"
