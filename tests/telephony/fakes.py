"""A scripted stand-in for the AMI client: records actions, lets a test push events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dialer.ami import events as ami
from dialer.ami.errors import AmiError, AmiLinkDown
from dialer.clock import Clock


class FakeAmi:
    """Implements the call service's AmiPort; every originate/redirect is recorded."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.originates: list[dict[str, Any]] = []
        self.redirects: list[tuple[str, str, str, int]] = []
        self.channels: tuple[ami.ChannelInfo, ...] = ()
        self.looks = 0  # core_show_channels() answered
        self.on_look: Any = None  # async callback run before the channels are returned
        self.originate_error: AmiError | None = None
        self.on_originate: Any = None  # async callback(fields) run before the reply
        self.connected = True  # the AMI link is up
        self._queue: asyncio.Queue[ami.AmiEvent] = asyncio.Queue()

    async def events(self) -> AsyncIterator[ami.AmiEvent]:
        while True:
            yield await self._queue.get()

    def push(self, event: ami.AmiEvent) -> None:
        self._queue.put_nowait(event)

    async def originate(self, **fields: Any) -> None:
        if not self.connected:  # as the client: refused before anything is sent
            raise AmiLinkDown("AMI link is down", sent=False)
        self.originates.append(fields)
        if self.on_originate is not None:
            await self.on_originate(fields)
        if self.originate_error is not None:
            raise self.originate_error

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self.redirects.append((channel, context, exten, priority))

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]:
        if self.on_look is not None:
            await self.on_look()
        # Counted as it returns: the caller reads the channels in the same step, before a test sees the count.
        self.looks += 1
        return self.channels

    def routed(self) -> bool:
        """Every pushed event has been taken by the router (which routes each in the step it takes it)."""
        return self._queue.empty()

    # -- event builders, shaped like Asterisk 16's --------------------------------------

    def _chan(self, channel: str, uniqueid: str, linkedid: str) -> dict[str, Any]:
        return {
            "at": self.clock.now(),
            "channel": channel,
            "uniqueid": uniqueid,
            "linkedid": linkedid,
            "caller_id_num": "",
            "caller_id_name": "",
        }

    def dial_begin(self, call_id: str, caller_uid: str, dest_channel: str, dest_uid: str) -> None:
        self.push(
            ami.DialBegin(
                **self._chan("Local/x", caller_uid, call_id),
                dest_channel=dest_channel,
                dest_uniqueid=dest_uid,
                dial_string="",
            )
        )

    def dial_end(self, call_id: str, caller_uid: str, dest_channel: str, dest_uid: str, status: str) -> None:
        self.push(
            ami.DialEnd(
                **self._chan("Local/x", caller_uid, call_id),
                dest_channel=dest_channel,
                dest_uniqueid=dest_uid,
                dial_status=status,
            )
        )

    def newstate(self, call_id: str, uid: str, state: int, desc: str) -> None:
        self.push(
            ami.Newstate(**self._chan("PJSIP/carrier-1", uid, call_id), channel_state=state, channel_state_desc=desc)
        )

    def hangup(self, call_id: str, uid: str, cause: int) -> None:
        self.push(ami.Hangup(**self._chan("X/y", uid, call_id), cause=cause, cause_txt=""))

    def user_event(self, call_id: str, uid: str, name: str, channel: str = "Local/x;1", **fields: str) -> None:
        self.push(ami.UserEvent(**self._chan(channel, uid, call_id), user_event=name, fields=tuple(fields.items())))

    def varset(self, call_id: str, uid: str, variable: str, value: str) -> None:
        self.push(ami.VarSet(**self._chan("Local/x;1", uid, call_id), variable=variable, value=value))

    def originate_response(self, call_id: str, success: bool, reason: int) -> None:
        self.push(
            ami.OriginateResponse(
                at=self.clock.now(),
                action_id="a",
                response="Success" if success else "Failure",
                reason=reason,
                channel="Local/x;1",
                uniqueid=call_id,
                context="",
                exten="",
            )
        )

    def reconciled(self, channels: tuple[ami.ChannelInfo, ...] = (), *, periodic: bool = False) -> None:
        self.push(ami.Reconciled(at=self.clock.now(), channels=channels, periodic=periodic))

    def play_answered_call(self, call_id: str, agent: str = "agent1", recording: str = "/r.wav") -> None:
        """The event sequence of a customer who answers, is connected, talks and hangs up."""
        cust = f"{call_id}-cust"
        self.dial_begin(call_id, f"{call_id}-2", "PJSIP/carrier-1", cust)
        self.dial_end(call_id, f"{call_id}-2", "PJSIP/carrier-1", cust, "ANSWER")
        self.originate_response(call_id, True, 4)
        self.user_event(call_id, call_id, "DCCAmd", Status="HUMAN", Cause="HUMAN-1-1")
        self.user_event(call_id, call_id, "DCCHold", channel="Local/13800000001@dcc-outbound-1;1", HoldMs="1990")

    def finish_answered_call(self, call_id: str, agent: str = "agent1", recording: str = "/r.wav") -> None:
        agent_uid = f"{call_id}-agent"
        self.varset(call_id, call_id, "MIXMONITOR_FILENAME", recording)
        self.dial_begin(call_id, call_id, f"PJSIP/{agent}-00000007", agent_uid)
        self.dial_end(call_id, call_id, f"PJSIP/{agent}-00000007", agent_uid, "ANSWER")
        self.hangup(call_id, f"{call_id}-cust", 16)
        self.hangup(call_id, call_id, 16)
