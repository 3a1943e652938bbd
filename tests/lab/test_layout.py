"""The lab's layout at scale: the agents' phones spread over SIPp processes, and Asterisk's RTP share."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from itertools import pairwise
from pathlib import Path

import pytest

from dialer.lab.errors import LabStartError
from dialer.lab.lab import Lab
from dialer.lab.layout import PHONES_PER_SIPP, LabLayout, Party
from dialer.settings import LabSettings, PbxSettings, Settings
from tests.conftest import settings_beside
from tests.lab.rawami import RawAmi

AGENTS = 200
OFFSET = 3400  # a lab of its own beside the session's (SIP 18460, RTP 64000-64999)


def lab_of(tmp_path: Path, agents: int, **lab: int) -> Settings:
    return Settings(base_dir=str(tmp_path), lab=LabSettings(agents=agents, **lab))  # type: ignore[arg-type]


def test_a_handful_of_agents_keep_one_sipp_on_the_agents_port(tmp_path: Path) -> None:
    layout = LabLayout.from_settings(lab_of(tmp_path, 8))
    (only,) = layout.sipp(Party.AGENTS)
    assert (only.name, only.port, only.rtp_start) == ("agents", 15080, layout.party_rtp[Party.AGENTS].start)
    assert (only.first, only.last) == (1, 8)
    assert layout.phone_port("agent8", Party.AGENTS) == 15080


def test_200_agents_are_played_by_four_sipps_of_50_each_with_their_own_ports(tmp_path: Path) -> None:
    layout = LabLayout.from_settings(lab_of(tmp_path, 200))
    phones = layout.sipp(Party.AGENTS)
    assert [p.name for p in phones] == ["agents", "agents-2", "agents-3", "agents-4"]
    assert [(p.first, p.last) for p in phones] == [(1, 50), (51, 100), (101, 150), (151, 200)]
    # A SIP port and its control port (+1) each, all below the supervisor's.
    ports = [q for p in phones for q in (p.port, p.port + 1)]
    assert ports == list(range(15080, 15088)) and max(ports) < layout.party_ports[Party.SUPERVISOR]
    block = layout.party_rtp[Party.AGENTS]
    starts = [p.rtp_start for p in phones]
    assert starts[0] == block.start and starts == sorted(starts) and starts[-1] < block.end
    assert all(s % 2 == 0 for s in starts)
    assert [layout.phone_port(f"agent{n}", Party.AGENTS) for n in (1, 50, 51, 200)] == [15080, 15080, 15082, 15086]
    assert layout.phone_port("supervisor", Party.SUPERVISOR) == layout.party_ports[Party.SUPERVISOR]


def test_agents_beyond_the_room_for_processes_crowd_into_the_last_ones(tmp_path: Path) -> None:
    # Five processes fit between 15080 and the supervisor's 15090; more agents get more phones each.
    phones = LabLayout.from_settings(lab_of(tmp_path, 6 * PHONES_PER_SIPP)).sipp(Party.AGENTS)
    assert len(phones) == 5 and phones[-1].port == 15088
    assert phones[0].first == 1 and phones[-1].last == 300
    assert all(a.last + 1 == b.first for a, b in pairwise(phones))


def test_up_refuses_a_lab_whose_asterisk_has_too_few_rtp_ports_for_its_lines(tmp_path: Path) -> None:
    # 1,000 ports: Asterisk's half holds 250 legs, and 200 lines need 400 (the bench's first lab).
    cfg = dataclasses.replace(
        lab_of(tmp_path, 200, rtp_start=40000, rtp_end=40999), pbx=PbxSettings(outbound_lines=200)
    )
    with pytest.raises(LabStartError, match=r"holds 250 call legs, pbx.outbound_lines = 200 calls need 400"):
        Lab(cfg).up()
    assert not LabLayout.from_settings(cfg).state_file.exists()


@pytest.mark.asterisk
@pytest.mark.scale  # CI on Asterisk 22 under the four passes' load: 199 of 200 answered once
async def test_200_agents_phones_ring_and_answer_at_once_from_their_own_sipps(tmp_path: Path) -> None:
    base = settings_beside(tmp_path, OFFSET)
    cfg = dataclasses.replace(base, lab=dataclasses.replace(base.lab, agents=AGENTS))
    lab = Lab(cfg)
    await asyncio.to_thread(lab.up, customers=False)
    try:
        contacts = lab.asterisk_cli("pjsip show contacts")
        ports = {int(p) for p in re.findall(r"agent\d+/sip:agent\d+@127\.0\.0\.1:(\d+)", contacts)}
        assert ports == {p.port for p in lab.layout.sipp(Party.AGENTS)} and len(ports) == AGENTS // PHONES_PER_SIPP
        pbx = cfg.pbx
        ami = await RawAmi.connect(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret)
        try:
            ids = [f"agentcheck-{n}" for n in range(1, AGENTS + 1)]
            replies = await asyncio.gather(
                *(
                    ami.action(
                        "Originate",
                        Channel=f"PJSIP/agent{n}",
                        Application="Wait",
                        Data="2",
                        ChannelId=channel_id,
                        Timeout="20000",
                        Async="true",
                    )
                    for n, channel_id in enumerate(ids, 1)
                )
            )
            assert all(r.get("Response") == "Success" for r in replies)
            answers = [
                await ami.wait_for(lambda e, c=c: e.get("Event") == "OriginateResponse" and e.get("Uniqueid") == c, 40)
                for c in ids
            ]
            assert [a.get("Response") for a in answers].count("Success") == AGENTS
            # Each phone rang before it answered, as a real one does.
            rang = {e["Uniqueid"] for e in ami.events if e.get("Event") == "Newstate" and e.get("ChannelState") == "5"}
            assert rang >= set(ids)
        finally:
            await ami.close()
    finally:
        await asyncio.to_thread(lab.down)
