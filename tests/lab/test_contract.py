"""docs/telephony.md against the real Asterisk: each customer behaviour, the line limit,
AMD, the hold/abandon path, connecting an agent with a recording, and the inbound limit."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from dialer.lab.lab import Lab
from dialer.settings import Settings
from tests.lab.contract import MACHINE_TRIES, new_call_id, originate, place_call, redirect_to_agent
from tests.lab.rawami import RawAmi

pytestmark = pytest.mark.asterisk

# Numbers of asterisk/sipp/customers.csv.
ANSWER_6S = "13800000001"
ANSWER_20S = "13800000002"
EARLY = "13800000011"
BUSY = "13800000021"
CONGESTION = "13800000031"
REJECT = "13800000041"
VACANT = "13800000051"
RING480 = "13800000061"
RINGFOREVER = "13800000071"
MACHINE = "13800000081"
UNKNOWN = "13899999999"
# Audio this loud or louder is speech, not silence (full scale = 1.0).
SPEECH_RMS = 0.01


async def test_refusals_report_the_causes_of_the_contract(ami: RawAmi, recordings: Path) -> None:
    busy, congestion, reject, vacant, unknown = await asyncio.gather(
        *(place_call(ami, n, recordings=recordings) for n in (BUSY, CONGESTION, REJECT, VACANT, UNKNOWN))
    )
    expected = [  # (call, DialEnd status, carrier Hangup cause)
        (busy, "BUSY", "17"),
        (congestion, "CONGESTION", "34"),
        (reject, "NOANSWER", "21"),
        (vacant, "NOANSWER", "1"),
        (unknown, "NOANSWER", "1"),
    ]
    for obs, status, cause in expected:
        assert (obs.response, obs.reason) == ("Failure", "0"), obs.number
        assert (obs.carrier_dialstatus, obs.carrier_cause) == (status, cause), obs.number
        assert obs.local1_cause == cause, obs.number
        assert obs.user_events == [], obs.number


# The Local;1 hang-up cause when the Originate's own timer ends a ringing call: Asterisk 16 leaves it
# at 0, 22 reports 19 (no answer). The dialer files both as no_answer from the Originate's reason 3.
RING_TIMEOUT_LOCAL1_CAUSE = {16: "0", 22: "19"}


async def test_ringing_then_480_and_ringing_until_the_timeout(
    ami: RawAmi, recordings: Path, asterisk_major: int
) -> None:
    ring480, forever = await asyncio.gather(
        place_call(ami, RING480, recordings=recordings),
        place_call(ami, RINGFOREVER, recordings=recordings, ring_timeout_ms=3000),
    )
    assert (ring480.response, ring480.reason, ring480.carrier_dialstatus, ring480.carrier_cause) == (
        "Failure", "0", "NOANSWER", "19",
    )  # fmt: skip
    # The Originate's own timer fired: reason 3, and the carrier leg was cancelled.
    assert (forever.response, forever.reason, forever.carrier_dialstatus) == ("Failure", "3", "CANCEL")
    assert forever.local1_cause == RING_TIMEOUT_LOCAL1_CAUSE[asterisk_major]


async def test_amd_tells_machine_from_person_and_an_unclaimed_person_is_abandoned(
    ami: RawAmi, recordings: Path
) -> None:
    person, short_hold, machine, early = await asyncio.gather(
        place_call(ami, ANSWER_20S, recordings=recordings, hold_s=2),
        place_call(ami, ANSWER_20S, recordings=recordings, hold_s=1),
        place_call(ami, MACHINE, recordings=recordings),
        place_call(ami, EARLY, recordings=recordings),
    )
    assert (person.response, person.reason) == ("Success", "4")
    assert person.amd_status in ("HUMAN", "NOTSURE")
    # Nobody redirected it: the PBX itself played the apology once DCC_HOLD seconds had passed
    # since the answer. AMD's time counts: the hold is what it left (it listened over a second).
    assert person.user_event_names == ["DCCAmd", "DCCHold", "DCCAbandon"]
    (hold,) = [e for e in person.events if e.get("UserEvent") == "DCCHold"]
    assert 0 < int(hold["HoldMs"]) < 1000
    assert person.local1_cause == "16"
    # AMD used up a 1-second budget: straight to the apology, no hold at all.
    assert short_hold.user_event_names == ["DCCAmd", "DCCAbandon"]

    # A MACHINE verdict is held for the dialer like any call (a free agent takes it); nobody
    # redirected it, so after the hold the PBX hung up without the apology. The lab's voicemail is
    # MACHINE by about 50 ms of voiced audio (docs/telephony.md): on a loaded machine it can run out
    # of analysis time and come out NOTSURE, which must then take the unclaimed person's path.
    for _ in range(MACHINE_TRIES - 1):
        if machine.amd_status == "MACHINE":
            break
        assert (machine.response, machine.reason, machine.amd_status) == ("Success", "4", "NOTSURE")
        assert machine.user_event_names == ["DCCAmd", "DCCHold", "DCCAbandon"]
        machine = await place_call(ami, MACHINE, recordings=recordings)
    assert (machine.response, machine.reason, machine.amd_status) == ("Success", "4", "MACHINE")
    assert machine.user_event_names == ["DCCAmd", "DCCHold", "DCCMachine"]
    assert machine.local1_cause == "16"

    # Hung up while AMD listened: no DCCAmd is raised (the dialplan stops), only the hang-up.
    assert (early.response, early.reason, early.carrier_dialstatus) == ("Success", "4", "ANSWER")
    assert early.user_events == []


async def test_redirect_to_an_agent_connects_records_speech_and_the_supervisor_listens(
    ami: RawAmi, recordings: Path
) -> None:
    call = asyncio.create_task(place_call(ami, ANSWER_6S, recordings=recordings, agent="agent2"))
    await ami.wait_for(lambda e: e.get("Event") == "DialEnd" and e.get("DestChannel", "").startswith("PJSIP/agent2-")
                       and e.get("DialStatus") == "ANSWER", 15)  # fmt: skip
    spy = await ami.action("Originate", Channel="PJSIP/supervisor", Context="dcc-spy", Exten="agent2", Priority="1",
                           Async="true", Variable="DCC_SPY=listen")  # fmt: skip
    assert spy["Response"] == "Success"
    spying = await ami.wait_for(lambda e: e.get("Event") == "ChanSpyStart", 10)
    assert spying["SpyerChannel"].startswith("PJSIP/supervisor-")
    assert spying["SpyeeChannel"].startswith("PJSIP/agent2-")
    obs = await call
    assert obs.user_event_names == ["DCCAmd", "DCCHold", "DCCConnect"]
    assert "DCCConnect(Agent=agent2)" in obs.user_events
    assert obs.agent_dialstatus == "ANSWER"
    wav = recordings / f"{obs.call_id}.wav"
    assert obs.recording == str(wav)
    assert rms_amplitude(wav) > SPEECH_RMS


async def test_a_recording_path_outside_the_recordings_folder_is_not_recorded(
    ami: RawAmi, recordings: Path, tmp_path: Path
) -> None:
    outside, climbing = new_call_id(), new_call_id()
    paths = {outside: tmp_path / f"{outside}.wav", climbing: recordings / ".." / f"{climbing}.wav"}
    for call_id, path in paths.items():
        await originate(ami, ANSWER_20S, call_id, ring_timeout_ms=10000, amd=False, hold_s=10, recording=path)
    for call_id, agent in zip(paths, ("agent3", "agent4"), strict=True):
        await redirect_to_agent(ami, call_id, agent, 10)
    for call_id in paths:
        await ami.wait_for(lambda e, c=call_id: e.get("Event") == "DialEnd" and e.get("Linkedid") == c
                           and e.get("DestChannel", "").startswith("PJSIP/agent") and e.get("DialStatus") == "ANSWER", 10)  # fmt: skip
    recorded = {e["Linkedid"] for e in ami.events if e.get("Variable") == "MIXMONITOR_FILENAME"}
    assert not recorded & set(paths)
    assert not any(p.exists() for p in paths.values())


async def test_the_ninth_outbound_call_hits_the_line_limit(
    ami: RawAmi, recordings: Path, lab_settings: Settings
) -> None:
    lines = lab_settings.pbx.outbound_lines
    ringing: list[str] = []
    for _ in range(lines):
        call_id = new_call_id()
        await originate(ami, RINGFOREVER, call_id, ring_timeout_ms=20000, amd=False, hold_s=1,
                        recording=recordings / f"{call_id}.wav")  # fmt: skip
        ringing.append(call_id)
    for call_id in ringing:
        await ami.wait_for(lambda e, c=call_id: e.get("Event") == "DialState" and e.get("Linkedid") == c, 10)
    extra = new_call_id()
    await originate(ami, RINGFOREVER, extra, ring_timeout_ms=20000, amd=False, hold_s=1,
                    recording=recordings / f"{extra}.wav")  # fmt: skip
    await ami.wait_for(lambda e: e.get("UserEvent") == "DCCLineLimit" and e.get("Linkedid") == extra, 10)
    hangup = await ami.wait_for(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == f"{extra}-2", 10)
    assert hangup["Cause"] == "34"
    limited = {e["Linkedid"] for e in ami.events if e.get("UserEvent") == "DCCLineLimit"}
    assert limited == {extra}


async def test_the_fifth_inbound_caller_hears_busy(lab: Lab, ami: RawAmi, lab_settings: Settings) -> None:
    callers = lab_settings.pbx.inbound_lines + 1
    sipp = await asyncio.create_subprocess_exec(
        "sipp", f"127.0.0.1:{lab_settings.lab.sip_port}", "-sf", "caller.xml", "-s", "4008001234",
        "-i", "127.0.0.1", "-p", str(lab_settings.lab.inbound_port), "-cp", str(lab_settings.lab.inbound_port + 1),
        "-mi", "127.0.0.1", "-mp", str(lab.layout.callers_rtp.start),
        "-d", "3000", "-m", str(callers), "-l", str(callers), "-r", "100", "-nostdin",
        cwd=lab.layout.dir("sipp"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        busy = await ami.wait_for(lambda e: e.get("UserEvent") == "DCCInboundBusy", 15)
        busy_hangup = await ami.wait_for(
            lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == busy["Uniqueid"], 5
        )
        await asyncio.wait_for(sipp.wait(), 30)
    finally:
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
    assert busy_hangup["Cause"] == "17"
    inbound = {
        e["Uniqueid"] for e in ami.events if e.get("Event") == "Newchannel" and e.get("Context") == "dcc-inbound"
    }
    answered = {
        e["Uniqueid"] for e in ami.events if e.get("Event") == "Newstate" and e.get("ChannelState") == "6"
    } & inbound
    assert len(inbound) == callers
    assert len(answered) == callers - 1
    assert sum(1 for e in ami.events if e.get("UserEvent") == "DCCInboundBusy") == 1


def rms_amplitude(wav: Path) -> float:
    """RMS amplitude of a recording as sox measures it (0 = silence, 1 = full scale)."""
    out = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", out)
    assert found, out
    return float(found.group(1))
