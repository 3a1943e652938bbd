"""Typed AMI events: what the rest of the dialer hears from Asterisk.

Frozen dataclasses built from :class:`dialer.ami.codec.Message` so the call
model matches on types and attributes instead of string keys, and never sees a
panoramisk object. Every event carries ``at``: the instant our AMI layer
received it (from the injected clock), so timings such as "answer -> hang-up"
do not depend on how long the event waited in the queue.

Besides Asterisk's own events the AMI layer emits link events: :class:`LinkUp`,
:class:`LinkDown` and :class:`Reconciled` (the channels Asterisk has after each
(re)connect, and periodically on a live link, from ``CoreShowChannels``), because
after a gap in the event stream only a fresh snapshot tells the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from dialer.ami.codec import Message, MessageKind
from dialer.logs import get_logger

log = get_logger(__name__)

Fields = tuple[tuple[str, str], ...]

# Keys of Asterisk's standard channel snapshot; UserEvent.fields leaves them out
# so it holds only what the dialplan itself raised.
_SNAPSHOT_KEYS = frozenset(
    k.lower()
    for k in (
        "Event",
        "Privilege",
        "UserEvent",
        "Channel",
        "ChannelState",
        "ChannelStateDesc",
        "CallerIDNum",
        "CallerIDName",
        "ConnectedLineNum",
        "ConnectedLineName",
        "Language",
        "AccountCode",
        "Context",
        "Exten",
        "Priority",
        "Uniqueid",
        "Linkedid",
        "SystemName",
    )
)


class EventFieldError(ValueError):
    """An Asterisk event carried a value we cannot read (e.g. a non-numeric Cause)."""


def _get(fields: Fields, key: str, default: str) -> str:
    wanted = key.lower()
    for k, v in fields:
        if k.lower() == wanted:
            return v
    return default


@dataclass(frozen=True, slots=True, kw_only=True)
class AmiEvent:
    """Base of everything the event stream yields."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkUp(AmiEvent):
    """Logged in and Asterisk is fully booted: actions work from here on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDown(AmiEvent):
    """The link is gone; events may have been missed until the next :class:`Reconciled`."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelInfo:
    """One live channel as ``CoreShowChannels`` reports it."""

    channel: str
    uniqueid: str
    linkedid: str
    channel_state: int
    channel_state_desc: str
    caller_id_num: str
    caller_id_name: str
    context: str
    exten: str
    priority: int
    application: str
    application_data: str
    duration_s: int
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled(AmiEvent):
    """Every channel Asterisk had at this point of the stream; anything not listed is gone.

    Taken after every (re)connect, and with ``periodic`` every ``pbx.reconcile_interval_s`` on a
    live link. A periodic snapshot can be overtaken by an event in flight, and a call being
    originated may have no channel yet: its readers act on it only after a second look.
    """

    channels: tuple[ChannelInfo, ...]
    periodic: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEvent(AmiEvent):
    """An Asterisk event about one channel; ``linkedid`` ties all legs of one call together."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_id_num: str
    caller_id_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Newchannel(ChannelEvent):
    """A channel was created: the first sight of each leg of a call."""

    channel_state: int
    channel_state_desc: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Newstate(ChannelEvent):
    """The channel changed state: Ringing (5) and Up (6) matter to the call model."""

    channel_state: int
    channel_state_desc: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(ChannelEvent):
    """The channel is gone; ``cause`` is the Q.850 cause the outcome is classified from."""

    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialBegin(ChannelEvent):
    """The caller side (channel fields) starts dialling ``dest_channel``."""

    dest_channel: str
    dest_uniqueid: str
    dial_string: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialEnd(ChannelEvent):
    """Asterisk's verdict on one Dial: ANSWER, BUSY, CONGESTION, NOANSWER, CHANUNAVAIL ..."""

    dest_channel: str
    dest_uniqueid: str
    dial_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateResponse(AmiEvent):
    """Result of an async Originate; ``uniqueid`` is the ChannelId we asked for.

    ``reason`` only tells answered (4) from rang-out (3): with chan_pjsip busy and
    congestion also arrive as 0 (see docs/telephony.md).
    """

    action_id: str
    response: str
    reason: int
    channel: str
    uniqueid: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VarSet(ChannelEvent):
    """A channel variable changed; MIXMONITOR_FILENAME marks a finished recording's path."""

    variable: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserEvent(ChannelEvent):
    """An event our dialplan raised (DCCAmd, DCCHold, DCCAbandon, ...); ``fields`` are its own keys."""

    user_event: str
    fields: Fields

    def get(self, key: str, default: str = "") -> str:
        """A field of the user event by name (case-insensitive)."""
        return _get(self.fields, key, default)


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeEnter(ChannelEvent):
    """The channel joined a bridge: customer and agent are talking once both are in."""

    bridge_id: str
    bridge_num_channels: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeLeave(ChannelEvent):
    """The channel left a bridge (hang-up, transfer, or a redirect out of it)."""

    bridge_id: str
    bridge_num_channels: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold(ChannelEvent):
    """The agent (or customer) put the call on hold; talk time and QA care."""

    music_class: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unhold(ChannelEvent):
    """The hold ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FullyBooted(AmiEvent):
    """Asterisk finished starting; sent after every login."""

    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEvent(AmiEvent):
    """Any event without a typed class (and any typed event whose values did not parse).

    Holds the message itself: about half of a busy PBX's events have no type (Newexten,
    DeviceStateChange, NewCallerid ...) and no consumer looks into them, so their headers are
    split only if someone reads :attr:`fields` or calls :meth:`get`.
    """

    name: str
    message: Message

    @property
    def fields(self) -> Fields:
        """Every ``(key, value)`` of the event, in wire order."""
        return self.message.headers

    def get(self, key: str, default: str = "") -> str:
        """A field by name (case-insensitive)."""
        return self.message.get(key, default)


def _int(event: str, key: str, value: str) -> int:
    if value == "":
        return 0
    try:
        return int(value)
    except ValueError:
        raise EventFieldError(f"{event} field {key}={value!r}: not a whole number") from None


def _duration_s(value: str) -> int:
    """CoreShowChannel's Duration is HH:MM:SS."""
    total = 0
    for part in value.split(":"):
        total = total * 60 + int(part)
    return total


def channel_info(message: Message) -> ChannelInfo:
    """A ``CoreShowChannel`` list entry as a :class:`ChannelInfo`."""
    f = message.first_values()
    try:
        duration = _duration_s(f.get("duration", "0") or "0")
    except ValueError:
        raise EventFieldError(f"CoreShowChannel field Duration={f.get('duration')!r}: expected HH:MM:SS") from None
    return ChannelInfo(
        channel=f.get("channel", ""),
        uniqueid=f.get("uniqueid", ""),
        linkedid=f.get("linkedid", ""),
        channel_state=_int("CoreShowChannel", "ChannelState", f.get("channelstate", "")),
        channel_state_desc=f.get("channelstatedesc", ""),
        caller_id_num=f.get("calleridnum", ""),
        caller_id_name=f.get("calleridname", ""),
        context=f.get("context", ""),
        exten=f.get("exten", ""),
        priority=_int("CoreShowChannel", "Priority", f.get("priority", "")),
        application=f.get("application", ""),
        application_data=f.get("applicationdata", ""),
        duration_s=duration,
        bridge_id=f.get("bridgeid", ""),
    )


# Each builder reads its keys with one Message.first_of: the five of every channel event first.
_CHANNEL = ("channel", "uniqueid", "linkedid", "calleridnum", "calleridname")


def _newchannel(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, state, desc, context, exten = m.first_of(
        (*_CHANNEL, "channelstate", "channelstatedesc", "context", "exten")
    )
    return Newchannel(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        channel_state=_int("Newchannel", "ChannelState", state), channel_state_desc=desc, context=context, exten=exten,
    )  # fmt: skip


def _newstate(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, state, desc = m.first_of((*_CHANNEL, "channelstate", "channelstatedesc"))
    return Newstate(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        channel_state=_int("Newstate", "ChannelState", state), channel_state_desc=desc,
    )  # fmt: skip


def _hangup(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, cause, cause_txt = m.first_of((*_CHANNEL, "cause", "cause-txt"))
    return Hangup(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        cause=_int("Hangup", "Cause", cause), cause_txt=cause_txt,
    )  # fmt: skip


def _dial_begin(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, dest, dest_uid, dial_string = m.first_of(
        (*_CHANNEL, "destchannel", "destuniqueid", "dialstring")
    )
    return DialBegin(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        dest_channel=dest, dest_uniqueid=dest_uid, dial_string=dial_string,
    )  # fmt: skip


def _dial_end(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, dest, dest_uid, status = m.first_of((*_CHANNEL, "destchannel", "destuniqueid", "dialstatus"))
    return DialEnd(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        dest_channel=dest, dest_uniqueid=dest_uid, dial_status=status,
    )  # fmt: skip


def _originate_response(m: Message, at: datetime) -> AmiEvent:
    action_id, response, reason, channel, uniqueid, context, exten = m.first_of(
        ("actionid", "response", "reason", "channel", "uniqueid", "context", "exten")
    )
    return OriginateResponse(
        at=at, action_id=action_id, response=response, reason=_int("OriginateResponse", "Reason", reason),
        channel=channel, uniqueid=uniqueid, context=context, exten=exten,
    )  # fmt: skip


def _var_set(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, variable, value = m.first_of((*_CHANNEL, "variable", "value"))
    return VarSet(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        variable=variable, value=value,
    )  # fmt: skip


def _user_event(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, user_event = m.first_of((*_CHANNEL, "userevent"))
    own = tuple((k, v) for k, v in m.headers if k.lower() not in _SNAPSHOT_KEYS)
    return UserEvent(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        user_event=user_event, fields=own,
    )  # fmt: skip


def _bridge(cls: type[BridgeEnter | BridgeLeave], m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, bridge, count = m.first_of((*_CHANNEL, "bridgeuniqueid", "bridgenumchannels"))
    return cls(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name,
        bridge_id=bridge, bridge_num_channels=_int(cls.__name__, "BridgeNumChannels", count),
    )  # fmt: skip


def _hold(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name, music_class = m.first_of((*_CHANNEL, "musicclass"))
    return Hold(
        at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name, music_class=music_class
    )


def _unhold(m: Message, at: datetime) -> AmiEvent:
    c, u, li, num, name = m.first_of(_CHANNEL)
    return Unhold(at=at, channel=c, uniqueid=u, linkedid=li, caller_id_num=num, caller_id_name=name)


def _fully_booted(m: Message, at: datetime) -> AmiEvent:
    return FullyBooted(at=at, status=m.first_of(("status",))[0])


_BUILDERS: dict[str, Callable[[Message, datetime], AmiEvent]] = {
    "newchannel": _newchannel,
    "newstate": _newstate,
    "hangup": _hangup,
    "dialbegin": _dial_begin,
    "dialend": _dial_end,
    "originateresponse": _originate_response,
    "varset": _var_set,
    "userevent": _user_event,
    "bridgeenter": partial(_bridge, BridgeEnter),
    "bridgeleave": partial(_bridge, BridgeLeave),
    "hold": _hold,
    "unhold": _unhold,
    "fullybooted": _fully_booted,
}


def from_message(message: Message, at: datetime) -> AmiEvent:
    """The typed event for an AMI event message; a :class:`RawEvent` when there is no type for it.

    A known event whose values do not parse also becomes a RawEvent (logged),
    because dropping it would be worse than handing it on untyped.
    """
    name = message.name if message.kind is MessageKind.EVENT else message.get("Event")
    builder = _BUILDERS.get(name.lower())
    if builder is not None:
        try:
            return builder(message, at)
        except EventFieldError as exc:
            log.warning("ami_event_unparsed", error=str(exc))
    return RawEvent(at=at, name=name, message=message)
