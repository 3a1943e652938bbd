"""Typed events from raw AMI messages, as Asterisk 16 writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.ami.codec import Message, Parser
from dialer.ami.events import (
    BridgeEnter,
    DialBegin,
    DialEnd,
    EventFieldError,
    FullyBooted,
    Hangup,
    Hold,
    Newchannel,
    Newstate,
    OriginateResponse,
    RawEvent,
    UserEvent,
    VarSet,
    channel_info,
    from_message,
)
from tests.ami.fake_ami import channel_fields, core_show_channel, event, wire

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CHAN = "PJSIP/carrier-0000002a"


def parse(data: bytes) -> Message:
    (message,) = Parser(expect_banner=False).feed(data)
    assert isinstance(message, Message)
    return message


def build(data: bytes):  # type: ignore[no-untyped-def]
    return from_message(parse(data), AT)


def test_hangup() -> None:
    ev = build(
        event(
            "Hangup",
            *channel_fields(CHAN, "1700.42", "call-7", "王芳", "13800138000"),
            ("Cause", "17"),
            ("Cause-txt", "User busy"),
        )
    )
    assert ev == Hangup(
        at=AT,
        channel=CHAN,
        uniqueid="1700.42",
        linkedid="call-7",
        caller_id_num="13800138000",
        caller_id_name="王芳",
        cause=17,
        cause_txt="User busy",
    )


def test_newchannel_and_newstate() -> None:
    nc = build(event("Newchannel", *channel_fields(CHAN, "u1", "call-1")))
    assert isinstance(nc, Newchannel)
    assert (nc.channel_state, nc.channel_state_desc, nc.context, nc.exten) == (6, "Up", "dcc-answered", "s")
    fields = [
        (k, "5" if k == "ChannelState" else "Ringing" if k == "ChannelStateDesc" else v)
        for k, v in channel_fields(CHAN, "u1", "call-1")
    ]
    ns = build(event("Newstate", *fields))
    assert isinstance(ns, Newstate)
    assert (ns.channel_state, ns.channel_state_desc, ns.linkedid) == (5, "Ringing", "call-1")


def test_dial_begin_and_end_have_both_sides() -> None:
    dest = [("DestChannel", CHAN), ("DestUniqueid", "u2"), ("DestLinkedid", "call-1")]
    begin = build(
        event(
            "DialBegin",
            *channel_fields("Local/138@dcc-outbound-0001;2", "u1", "call-1"),
            *dest,
            ("DialString", "138@carrier"),
        )
    )
    end = build(
        event(
            "DialEnd", *channel_fields("Local/138@dcc-outbound-0001;2", "u1", "call-1"), *dest, ("DialStatus", "BUSY")
        )
    )
    assert isinstance(begin, DialBegin) and isinstance(end, DialEnd)
    assert (begin.channel, begin.uniqueid, begin.dest_channel, begin.dest_uniqueid, begin.dial_string) == (
        "Local/138@dcc-outbound-0001;2",
        "u1",
        CHAN,
        "u2",
        "138@carrier",
    )
    assert (end.dest_uniqueid, end.dial_status) == ("u2", "BUSY")


def test_dial_end_without_caller_side() -> None:
    end = build(event("DialEnd", ("DestChannel", CHAN), ("DestUniqueid", "u2"), ("DialStatus", "NOANSWER")))
    assert isinstance(end, DialEnd)
    assert (end.channel, end.uniqueid, end.dial_status) == ("", "", "NOANSWER")


def test_originate_response() -> None:
    ev = build(
        wire(
            ("Event", "OriginateResponse"),
            ("ActionID", "a9"),
            ("Response", "Failure"),
            ("Channel", "Local/1@x"),
            ("Context", "dcc-answered"),
            ("Exten", "s"),
            ("Reason", "3"),
            ("Uniqueid", "call-9"),
        )
    )
    assert ev == OriginateResponse(
        at=AT,
        action_id="a9",
        response="Failure",
        reason=3,
        channel="Local/1@x",
        uniqueid="call-9",
        context="dcc-answered",
        exten="s",
    )


def test_varset_and_user_event_fields() -> None:
    vs = build(
        event(
            "VarSet",
            *channel_fields(CHAN, "u1", "call-1"),
            ("Variable", "MIXMONITOR_FILENAME"),
            ("Value", "/r/call-1.wav"),
        )
    )
    assert isinstance(vs, VarSet)
    assert (vs.variable, vs.value) == ("MIXMONITOR_FILENAME", "/r/call-1.wav")
    ue = build(
        event(
            "UserEvent",
            *channel_fields(CHAN, "u1", "call-1"),
            ("UserEvent", "DCCAmd"),
            ("Status", "MACHINE"),
            ("Cause", "LONGGREETING-1500-1500"),
        )
    )
    assert isinstance(ue, UserEvent)
    assert ue.user_event == "DCCAmd"
    assert ue.fields == (("Status", "MACHINE"), ("Cause", "LONGGREETING-1500-1500"))
    assert ue.get("status") == "MACHINE" and ue.linkedid == "call-1"


def test_bridge_hold_fully_booted() -> None:
    be = build(
        event(
            "BridgeEnter", *channel_fields(CHAN, "u1", "call-1"), ("BridgeUniqueid", "b-1"), ("BridgeNumChannels", "2")
        )
    )
    assert isinstance(be, BridgeEnter) and (be.bridge_id, be.bridge_num_channels) == ("b-1", 2)
    hold = build(event("Hold", *channel_fields(CHAN, "u1", "call-1"), ("MusicClass", "default")))
    assert isinstance(hold, Hold) and hold.music_class == "default"
    assert build(event("FullyBooted", ("Status", "Fully Booted"))) == FullyBooted(at=AT, status="Fully Booted")


def test_unknown_event_is_raw_with_all_fields() -> None:
    ev = build(event("AgentConnect", ("HoldTime", "3"), ("Queue", "sales")))
    fields = (("Event", "AgentConnect"), ("Privilege", "call,all"), ("HoldTime", "3"), ("Queue", "sales"))
    assert ev == RawEvent(at=AT, name="AgentConnect", message=Message(fields))
    assert isinstance(ev, RawEvent) and ev.fields == fields
    assert ev.get("queue") == "sales"


def test_unreadable_typed_event_falls_back_to_raw() -> None:
    ev = build(event("Hangup", *channel_fields(CHAN, "u1"), ("Cause", "seventeen")))
    assert isinstance(ev, RawEvent)
    assert ev.name == "Hangup" and ev.get("Cause") == "seventeen"


def test_channel_info_from_core_show_channel() -> None:
    info = channel_info(parse(wire(("Event", "CoreShowChannel"), *core_show_channel(CHAN, "u1", "call-1", "01:02:03"))))
    assert (info.channel, info.uniqueid, info.linkedid, info.duration_s, info.application) == (
        CHAN,
        "u1",
        "call-1",
        3723,
        "Wait",
    )


def test_channel_info_rejects_bad_duration_naming_field() -> None:
    with pytest.raises(EventFieldError, match="Duration='1h'"):
        channel_info(parse(wire(("Event", "CoreShowChannel"), ("Channel", CHAN), ("Duration", "1h"))))
