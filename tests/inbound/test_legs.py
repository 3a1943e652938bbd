"""AMI events of an inbound call's channels, as the inbound machine's events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dialer.ami import events as ami
from dialer.domain.calls import events as ev
from dialer.domain.inbound.routing import CallerMissed
from dialer.inbound.legs import translate

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def chan(uid: str, linkedid: str = "c1") -> dict[str, Any]:
    return {
        "at": AT,
        "channel": "PJSIP/inbound-trunk-1",
        "uniqueid": uid,
        "linkedid": linkedid,
        "caller_id_num": "",
        "caller_id_name": "",
    }


def dial_end(uid: str, status: str) -> ami.DialEnd:
    return ami.DialEnd(**chan(uid), dest_channel="PJSIP/agent10-0000002a", dest_uniqueid="d", dial_status=status)


def test_the_agent_leg_answering_is_the_connect_whatever_dialled_it() -> None:
    assert translate("c1", dial_end("c1", "ANSWER")) == [ev.AgentConnected(AT, "agent10")]
    assert translate("c1", dial_end("c1", "NOANSWER")) == []
    assert translate("c1", dial_end("other", "ANSWER")) == []


def test_recording_missed_and_hangup_of_the_caller_channel() -> None:
    assert translate("c1", ami.VarSet(**chan("c1"), variable="MIXMONITOR_FILENAME", value="/r/c1.wav")) == [
        ev.RecordingStarted(AT, "/r/c1.wav")
    ]
    assert translate("c1", ami.VarSet(**chan("c1"), variable="DCC_ROUTE", value="queue")) == []
    missed = ami.UserEvent(
        **chan("c1"), user_event="DCCInboundMissed", fields=(("Route", "queue"), ("Queue", "TIMEOUT"))
    )
    assert translate("c1", missed) == [CallerMissed(AT, "queue", "TIMEOUT")]
    assert translate("c1", ami.Hangup(**chan("c1"), cause=16, cause_txt="")) == [ev.CallHungUp(AT, 16)]
    # The agent's leg hanging up is not the end of the call: the caller's channel is.
    assert translate("c1", ami.Hangup(**chan("agent-leg"), cause=16, cause_txt="")) == []
