"""Hold, transfer and the 3-way call of a connected call, on a person's command (the desk's call card,
``POST /api/calls/{id}/transfer``); docs/telephony.md, "Transfer, hold and conference", is the contract.

Everything is done by moving channels in the dialplan (AMI ``Redirect``), which Asterisk 16 and 22 do
alike: the first hold, consultation or conference moves the customer and the agent out of their
two-party bridge into the call's room, a ConfBridge named after the call id ([dcc-room]). Hold mutes
both there; a consultation takes the agent's channel out to ring the colleague ([dcc-consult]) while the
customer waits in the room; completing it moves the colleague into the room and lets the agent go.
A blind transfer sends the customer's channel to ring the colleague ([dcc-transfer]).

The customer's channel carries the call's one recording (MixMonitor started on it), so the recording
follows the customer whoever talks to them. Every target is a phone: the dialplan checks again that
the name is an endpoint of ``dcc-phones``, so no transfer ever reaches the trunk.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from dialer.ami import events as ami
from dialer.ami.errors import AmiActionError, AmiError
from dialer.clock import Clock
from dialer.domain.calls.handovers import ENDPOINT, Handover, HandoverKind, HandoverRepository
from dialer.logs import get_logger
from dialer.telephony.calls import AmiPort, CallService

log = get_logger(__name__)

ROOM_CONTEXT = "dcc-room"  # the customer's place in the call's room
ROOM_STAFF_CONTEXT = "dcc-room-staff"  # an agent's or a colleague's
CONSULT_CONTEXT = "dcc-consult"
TRANSFER_CONTEXT = "dcc-transfer"
LEAVE_CONTEXT = "dcc-leave"


class TransferAction(StrEnum):
    HOLD = "hold"
    RESUME = "resume"
    BLIND = "blind"  # the customer rings the target; the agent leaves at once
    CONSULT = "consult"  # the agent rings the target while the customer waits (attended transfer)
    COMPLETE = "complete"  # after consult: the target and the customer together, the agent leaves
    CANCEL = "cancel"  # after consult: the target is let go, the agent is back with the customer
    CONFERENCE = "conference"  # the target joins the agent and the customer (or, after consult, all three)


TARGETED = frozenset({TransferAction.BLIND, TransferAction.CONSULT, TransferAction.CONFERENCE})
# How long the room may take to have a party moved into it, and how often it is looked at meanwhile
# (real time: the PBX's own pace bounds this wait).
JOIN_TIMEOUT_S = 5.0
_JOIN_POLL_S = 0.1
# Asterisk's reasons for refusing the mute of a channel its ConfBridge does not count as a member yet: a
# channel runs the ConfBridge application a moment before its conference exists and it has joined it
# (longer on a loaded PBX), so app_confbridge answers, in turn: no conference at all yet (seen on Asterisk
# 16 in CI), not this conference yet (other calls' rooms exist), not this channel yet (seen on Asterisk 22).
_NOT_A_MEMBER_YET = ("No active conferences", "No Conference by that name found", "No Channel by that name found")


class TransferRefused(Exception):
    """Not done; ``code``: ``not_live`` (no such call in progress), ``target`` (not a phone's name),
    ``state`` (not now: e.g. complete without a consultation), ``pbx`` (the PBX refused)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TransferPort(AmiPort, Protocol):
    """The AMI actions this needs besides the call service's (``dialer.ami.client.AmiClient``)."""

    async def redirect_both(
        self, channel: str, context: str, exten: str, extra_channel: str, extra_context: str, extra_exten: str
    ) -> None: ...

    async def confbridge_mute(self, conference: str, channel: str, *, mute: bool) -> None: ...

    async def setvar(self, channel: str, name: str, value: str) -> None: ...

    async def hangup(self, channel: str, cause: int = 16) -> None: ...


@dataclass
class _Room:
    """What the dialer knows of one call's parties; a call is only ever moved by one request at a time."""

    customer: str  # the customer's channel (uniqueid): it carries the recording
    agent: str  # the channel of the party who has the customer
    party: str  # their endpoint
    in_room: bool = False
    held: bool = False
    consulting: str | None = None  # the colleague the agent is ringing or talking to
    handed_over: bool = False  # a blind transfer: the customer has left the dialer's hands
    lock: asyncio.Lock | None = None


@dataclass(frozen=True, slots=True)
class TransferState:
    """A call's parties as the call card shows them."""

    call_id: str
    party: str
    in_room: bool
    held: bool
    consulting: str | None
    handed_over: bool
    handover: Handover | None  # the one this action recorded

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "party": self.party,
            "held": self.held,
            "consulting": self.consulting,
            "handed_over": self.handed_over,
            "handover": None
            if self.handover is None
            else {"kind": self.handover.kind.value, "from": self.handover.from_party, "to": self.handover.to_party},
        }


class Transfers:
    """Carries out hold, transfer and conference commands on the calls :class:`CallService` follows."""

    def __init__(
        self,
        *,
        ami_client: TransferPort,
        calls: CallService,
        handovers: HandoverRepository,
        clock: Clock,
        ring_timeout_s: float,
    ) -> None:
        self._ami = ami_client
        self._calls = calls
        self._handovers = handovers
        self._clock = clock
        self._ring_timeout_s = ring_timeout_s
        self._rooms: dict[str, _Room] = {}

    async def act(self, call_id: str, action: TransferAction, *, target: str | None, actor: str) -> TransferState:
        """Do ``action`` on the call; raises :class:`TransferRefused`."""
        if action in TARGETED and (target is None or not ENDPOINT.match(target)):
            raise TransferRefused("target", f"{action.value}: {target!r} is not a phone's name")
        # Calls that have ended since are forgotten here (the call service no longer follows them).
        self._rooms = {k: r for k, r in self._rooms.items() if self._calls.parties(k) is not None}
        room = self._room(call_id)
        assert room.lock is not None
        async with room.lock:
            if room.handed_over:
                raise TransferRefused("state", f"call {call_id} was handed over to {room.party}")
            channels = {c.uniqueid: c for c in await self._ami.core_show_channels()}
            customer = channels.get(room.customer)
            agent = channels.get(room.agent)
            if customer is None or agent is None:
                raise TransferRefused("not_live", f"call {call_id}: the customer or {room.party} is no longer on it")
            try:
                handover = await self._do(call_id, room, action, target, customer.channel, agent.channel, channels)
            except (AmiError, TimeoutError) as exc:
                log.warning("transfer.refused_by_pbx", call_id=call_id, action=action.value, error=str(exc))
                raise TransferRefused("pbx", f"{action.value}: {exc}") from None
            recorded = None
            if handover is not None:
                kind, from_party, to_party = handover
                recorded = await self._handovers.add(
                    call_id=call_id, at=self._clock.now(), kind=kind, from_party=from_party, to_party=to_party,
                    actor=actor,
                )  # fmt: skip
            log.info("transfer.done", call_id=call_id, action=action.value, target=target, party=room.party)
            return TransferState(
                call_id, room.party, room.in_room, room.held, room.consulting, room.handed_over, recorded
            )

    async def handovers(self, call_id: str) -> list[Handover]:
        """Who had the customer when: the call's handovers, in order."""
        return await self._handovers.of_call(call_id)

    def _room(self, call_id: str) -> _Room:
        room = self._rooms.get(call_id)
        if room is None:
            parties = self._calls.parties(call_id)
            if parties is None:
                raise TransferRefused("not_live", f"call {call_id} is not a connected call in progress")
            customer, agent, endpoint = parties
            room = self._rooms[call_id] = _Room(customer, agent, endpoint, lock=asyncio.Lock())
        return room

    async def _do(
        self,
        call_id: str,
        room: _Room,
        action: TransferAction,
        target: str | None,
        customer: str,
        agent: str,
        channels: dict[str, ami.ChannelInfo],
    ) -> tuple[HandoverKind, str, str] | None:
        if room.consulting is not None and action not in (TransferAction.COMPLETE, TransferAction.CANCEL,
                                                           TransferAction.CONFERENCE):  # fmt: skip
            raise TransferRefused("state", f"{action.value}: first complete or cancel the call to {room.consulting}")
        match action:
            case TransferAction.HOLD | TransferAction.RESUME:
                hold = action is TransferAction.HOLD
                await self._into_room(call_id, room, customer, agent)
                # Both muted: neither hears the other; the customer's side is still recorded.
                await mute_when_member(self._ami, call_id, customer, mute=hold)
                await mute_when_member(self._ami, call_id, agent, mute=hold)
                room.held = hold
            case TransferAction.BLIND:
                assert target is not None
                await self._ami.redirect_both(customer, TRANSFER_CONTEXT, target, agent, LEAVE_CONTEXT, "s")
                room.handed_over, room.in_room, room.held = True, False, False
                handover = (HandoverKind.BLIND, room.party, target)
                room.party = target
                return handover
            case TransferAction.CONSULT:
                assert target is not None
                await self._into_room(call_id, room, customer, agent)
                await self._unhold(call_id, room, customer, agent)
                await self._ami.setvar(agent, "DCC_ROOM", call_id)
                await self._ami.redirect(agent, CONSULT_CONTEXT, target)
                room.consulting = target
            case TransferAction.COMPLETE | TransferAction.CANCEL:
                if room.consulting is None:
                    raise TransferRefused("state", f"{action.value}: no consultation in progress")
                colleague = _consulted(channels, call_id, room)
                if colleague is None:
                    raise TransferRefused("state", f"{action.value}: {room.consulting} has not answered")
                if action is TransferAction.CANCEL:
                    # The agent's Dial ends with the colleague's channel; [dcc-consult] takes them back.
                    await self._ami.hangup(colleague.channel)
                    room.consulting = None
                    return None
                await self._ami.redirect_both(colleague.channel, ROOM_STAFF_CONTEXT, call_id, agent, LEAVE_CONTEXT, "s")
                handover = (HandoverKind.ATTENDED, room.party, room.consulting)
                room.party, room.agent, room.consulting = room.consulting, colleague.uniqueid, None
                return handover
            case TransferAction.CONFERENCE:
                assert target is not None
                if room.consulting is not None:
                    if target != room.consulting:
                        raise TransferRefused("state", f"conference: the agent is talking to {room.consulting}")
                    colleague = _consulted(channels, call_id, room)
                    if colleague is None:
                        raise TransferRefused("state", f"conference: {room.consulting} has not answered")
                    await self._ami.redirect_both(
                        colleague.channel, ROOM_STAFF_CONTEXT, call_id, agent, ROOM_STAFF_CONTEXT, call_id
                    )
                    room.consulting = None
                else:
                    await self._into_room(call_id, room, customer, agent)
                    await self._unhold(call_id, room, customer, agent)
                    await self._ami.originate(
                        channel=f"PJSIP/{target}", context=ROOM_STAFF_CONTEXT, exten=call_id, priority=1,
                        channel_id=f"{call_id}-c{len(channels)}", other_channel_id=f"{call_id}-d{len(channels)}",
                        timeout_ms=int(self._ring_timeout_s * 1000), caller_id="", variables={},
                    )  # fmt: skip
                return (HandoverKind.CONFERENCE, room.party, target)
        return None

    async def _into_room(self, call_id: str, room: _Room, customer: str, agent: str) -> None:
        """Move the customer and the agent from their two-party bridge into the call's room (once)."""
        if not room.in_room:
            await self._ami.redirect_both(customer, ROOM_CONTEXT, call_id, agent, ROOM_STAFF_CONTEXT, call_id)
            room.in_room = True
            # The ConfBridge must have them before it takes a mute: wait until both are in it.
            await self._joined(call_id, (room.customer, room.agent))

    async def _unhold(self, call_id: str, room: _Room, customer: str, agent: str) -> None:
        if room.held:
            await mute_when_member(self._ami, call_id, customer, mute=False)
            await mute_when_member(self._ami, call_id, agent, mute=False)
            room.held = False

    async def _joined(self, call_id: str, uniqueids: tuple[str, ...]) -> None:
        """Until every channel runs ConfBridge (real time bounds this wait on the PBX)."""
        async with asyncio.timeout(JOIN_TIMEOUT_S):
            while True:
                channels = {c.uniqueid: c for c in await self._ami.core_show_channels()}
                if all(channels.get(u) is not None and channels[u].application == "ConfBridge" for u in uniqueids):
                    return
                await asyncio.sleep(_JOIN_POLL_S)


async def mute_when_member(port: TransferPort, conference: str, channel: str, *, mute: bool) -> None:
    """Mute (or unmute) ``channel`` in ``conference`` once the conference counts it as a member.

    Asterisk refuses the mute of a channel that has not joined yet, or whose conference it has not set up
    yet: those refusals are tried again for up to :data:`JOIN_TIMEOUT_S`, then raised (a room that has
    really ended is refused so); any other refusal is raised at once.
    """
    deadline = asyncio.get_running_loop().time() + JOIN_TIMEOUT_S
    while True:
        try:
            await port.confbridge_mute(conference, channel, mute=mute)
            return
        except AmiActionError as exc:
            if not any(reason in exc.message for reason in _NOT_A_MEMBER_YET) or (
                asyncio.get_running_loop().time() >= deadline
            ):
                raise
        await asyncio.sleep(_JOIN_POLL_S)


def _consulted(channels: dict[str, ami.ChannelInfo], call_id: str, room: _Room) -> ami.ChannelInfo | None:
    """The colleague's channel the agent's consultation rang: ``PJSIP/<colleague>-…`` of this call, answered."""
    prefix = f"PJSIP/{room.consulting}-"
    found = [
        c
        for c in channels.values()
        if c.linkedid == call_id and c.channel.startswith(prefix) and c.uniqueid != room.agent and c.channel_state == 6
    ]
    return found[-1] if found else None
