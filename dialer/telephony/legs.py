"""From AMI events about channels to call events about one call.

A call is several channels: Local;1 (the dialer's own channel, uniqueid = call
id), Local;2 (``<call id>-2``, which dials the customer), the carrier channel
(the customer) and, once connected, the agent channel. Asterisk ties them with
``Linkedid == call id``. :class:`CallLegs` learns which channel is which from
``DialBegin`` and turns each AMI event into the leg-level facts the call model
understands (docs/telephony.md is the contract).

A manual call (``agent_first``) is built the other way round: the dialer's own channel is the
agent's phone (uniqueid = call id), rung first; once the agent answers, that channel dials the
customer itself. Its ``DialBegin``/``DialEnd`` are then the customer leg's, and the customer's
answer is also the moment the two are connected. Its recording runs on the customer's channel, and once
they are connected the customer's hang-up ends the call: the agent may hand the customer over
(docs/telephony.md, "Transfer, hold and conference") and leave while the call goes on.
"""

from __future__ import annotations

from dialer.ami import events as ami
from dialer.domain.calls import events as ev
from dialer.logs import get_logger

log = get_logger(__name__)

_RINGING = 5
_UP = 6


def other_channel_id(call_id: str) -> str:
    """The ChannelId we give the Local;2 half of a call's Local channel pair."""
    return f"{call_id}-2"


class CallLegs:
    """Leg bookkeeping for one call; pure apart from reading the events' own timestamps."""

    def __init__(self, call_id: str, agent_first: str | None = None) -> None:
        """``agent_first``: the endpoint of the agent whose phone is the call's own channel (a manual call)."""
        self.call_id = call_id
        self._agent_first = agent_first is not None
        # A manual call's customer is dialled from the call's own channel, not from a Local;2.
        self._dialer_side = call_id if agent_first is not None else other_channel_id(call_id)
        self.customer_uniqueid: str | None = None
        self._customer_dialled = False  # a manual call's customer leg was seen (DialBegin or DialEnd)
        self.agent_uniqueid: str | None = call_id if agent_first is not None else None
        self.agent: str | None = agent_first
        self._connected = False  # a manual call's customer answered: from now on their hang-up ends it

    @property
    def recording_channel(self) -> str | None:
        """The customer's side of the call, which carries its recording: Local;1 (the call id) of a
        campaign call, the customer's own channel of a manual call (None until it is dialled)."""
        return self.customer_uniqueid if self._agent_first else self.call_id

    def owns(self, event: ami.AmiEvent) -> bool:
        """Whether ``event`` belongs to this call."""
        if isinstance(event, ami.ChannelEvent):
            return event.linkedid == self.call_id or event.uniqueid in (self.call_id, self._dialer_side)
        if isinstance(event, ami.OriginateResponse):
            return event.uniqueid == self.call_id
        return False

    def translate(self, event: ami.AmiEvent) -> list[ev.CallEvent]:
        """The call events ``event`` means for this call (often none)."""
        at = event.at
        match event:
            case ami.OriginateResponse(response=response, reason=reason):
                if self._agent_first:
                    # Success only says the agent picked up; the customer's leg tells the rest.
                    ok = response.lower() == "success"
                    return [] if ok else [ev.AgentPhoneUnanswered(at, str(self.agent), f"originate reason {reason}")]
                return [ev.OriginateFinished(at, response.lower() == "success", reason)]
            case ami.DialBegin(uniqueid=uid, dest_uniqueid=dest, dest_channel=dest_channel):
                if uid == self._dialer_side and self.customer_uniqueid is None:
                    self.customer_uniqueid = dest
                    self._customer_dialled = True
                elif uid == self.call_id and not self._agent_first:
                    self.agent_uniqueid = dest
                    self.agent = endpoint_of(dest_channel)
                return []
            case ami.DialEnd(uniqueid=uid, dest_uniqueid=dest, dial_status=status):
                if self._connected and dest != self.customer_uniqueid:
                    return []  # the agent's own consultation call (dcc-consult), not the customer's leg
                if uid == self._dialer_side:
                    self._customer_dialled = True
                if uid == self._dialer_side and self._agent_first and status.upper() == "ANSWER":
                    self._connected = True
                    return [ev.CustomerDialEnded(at, status), ev.AgentConnected(at, str(self.agent))]
                if uid == self._dialer_side:
                    return [ev.CustomerDialEnded(at, status)]
                if uid == self.call_id and self.agent:
                    if status.upper() == "ANSWER":
                        return [ev.AgentConnected(at, self.agent)]
                    return [ev.AgentFailed(at, self.agent, status)]
                return []
            case ami.Newstate(uniqueid=uid, channel_state=state):
                if uid == self.customer_uniqueid and state == _RINGING:
                    return [ev.CustomerRinging(at)]
                if uid == self.customer_uniqueid and state == _UP:
                    return [ev.CustomerAnswered(at)]
                return []
            case ami.Hangup(uniqueid=uid, cause=cause):
                if uid == self.customer_uniqueid and self._agent_first and self._connected:
                    return [ev.CustomerHungUp(at, cause), ev.CallHungUp(at, cause)]
                if uid == self.customer_uniqueid:
                    return [ev.CustomerHungUp(at, cause)]
                if uid == self.call_id and self._agent_first and self._connected:
                    return []  # the agent left (a transfer); the call ends with the customer
                if uid == self.call_id and self._agent_first and not self._customer_dialled:
                    # The agent's phone went away before the customer was dialled (or the line limit said no).
                    return [ev.AgentPhoneUnanswered(at, str(self.agent), f"cause {cause}")]
                if uid == self.call_id:
                    return [ev.CallHungUp(at, cause)]
                return []
            case ami.UserEvent(user_event=name, channel=channel):
                return self._user_event(event, name, channel)
            case ami.VarSet(uniqueid=uid, variable=var, value=value):
                if uid == self.recording_channel and var.upper() == "MIXMONITOR_FILENAME" and value:
                    return [ev.RecordingStarted(at, value)]
                return []
        return []

    def _user_event(self, event: ami.UserEvent, name: str, channel: str) -> list[ev.CallEvent]:
        at = event.at
        match name:
            case "DCCLineLimit":
                return [ev.LineLimitReached(at)]
            case "DCCAmd":
                return [ev.MachineDetection(at, event.get("Status"), event.get("Cause"))]
            case "DCCHold":
                return [ev.WaitingForAgent(at, channel, _hold_ms(event))]
            case "DCCAbandon":
                return [ev.AbandonStarted(at)]
        return []


def _hold_ms(event: ami.UserEvent) -> int | None:
    """DCCHold's ``HoldMs``: the milliseconds the PBX still holds the customer for an agent."""
    value = event.get("HoldMs")
    try:
        return int(value)
    except ValueError:
        log.warning("DCCHold without a readable HoldMs", value=value[:40])
        return None


def endpoint_of(channel: str) -> str:
    """``PJSIP/agent3-0000002a`` -> ``agent3``."""
    tech_and_name = channel.split("/", 1)[-1]
    return tech_and_name.rsplit("-", 1)[0]
