"""From AMI events about an inbound call's channels to the call events the inbound machine understands.

An inbound call is the caller's channel (``PJSIP/inbound-trunk-…``, whose Uniqueid is the
call id) plus whatever it dials: the owner's phone (``Dial``) or a queue member's
(``Queue``). Asterisk gives every one of them ``Linkedid == call id``, and both
applications report the agent leg with ``DialBegin``/``DialEnd`` on the caller's
channel, so one rule finds the agent whichever way the call went.
"""

from __future__ import annotations

from dialer.ami import events as ami
from dialer.domain.calls import events as ev
from dialer.domain.inbound.routing import CallerMissed

# The one parser of agent channel names (``PJSIP/agent3-0000002a`` -> ``agent3``); private there for now.
from dialer.telephony.legs import endpoint_of

MISSED_EVENT = "DCCInboundMissed"


def translate(call_id: str, event: ami.AmiEvent) -> list[ev.CallEvent]:
    """The call events ``event`` means for the inbound call ``call_id`` (often none)."""
    at = event.at
    match event:
        case ami.DialEnd(uniqueid=uid, dest_channel=dest, dial_status=status) if uid == call_id:
            # A member that did not answer changes nothing: the queue rings the next one.
            if status.upper() == "ANSWER":
                return [ev.AgentConnected(at, endpoint_of(dest))]
        case ami.VarSet(uniqueid=uid, variable=var, value=value) if uid == call_id:
            if var.upper() == "MIXMONITOR_FILENAME" and value:
                return [ev.RecordingStarted(at, value)]
        case ami.UserEvent(uniqueid=uid, user_event=name) if uid == call_id and name == MISSED_EVENT:
            return [CallerMissed(at, event.get("Route"), event.get("Queue"))]
        case ami.Hangup(uniqueid=uid, cause=cause) if uid == call_id:
            return [ev.CallHungUp(at, cause)]
    return []
