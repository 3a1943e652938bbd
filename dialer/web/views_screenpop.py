"""Screen pops on the agent desk: the caller's lead card appears the moment the agent's phone takes an inbound call.

The inbound service publishes :class:`~dialer.inbound.service.ScreenPop` (and
:class:`~dialer.inbound.service.InboundCallEnded`) on the dialer's event bus; the desk page
keeps a websocket open, and each socket forwards only the events of its user's own phone
(the login's agent endpoint), so a colleague's caller never shows on the wrong screen.
The card shows the number masked, like every screen that does not need the full number.

The same socket carries the rest of what happens to this agent's phone, so the desk updates
without a reload: campaign calls put through (:class:`~dialer.campaigns.runner.AgentCallConnected`,
the call card ``#call-pop``), wrap-up started and ended, preview offers made and withdrawn, and
the agent's presence (logged in, paused). Each message is a JSON object with a ``type``;
``static/screenpop.js`` fills the card (templates/desk/_screenpop.html) and turns each message into a
``desk`` DOM event that ``static/desk-phone.js`` acts on.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dialer.campaigns.presence import PresenceChanged
from dialer.campaigns.runner import AgentCallConnected, PreviewOffered, PreviewWithdrawn, WrapUpEnded, WrapUpStarted
from dialer.domain.access.policy import Action
from dialer.domain.leads.errors import LeadNotFound
from dialer.events.bus import BusEvent
from dialer.inbound.service import InboundCallEnded, ScreenPop
from dialer.logs import get_logger
from dialer.phone import mask
from dialer.timestamps import to_db, to_db_or_none
from dialer.web.dealers import dealers_of, phone_of
from dialer.web.html import t
from dialer.web.keys import DIALER
from dialer.web.routing import RouteTable
from dialer.web.sockets import open_socket, stream

log = get_logger(__name__)
routes = RouteTable()


async def lead_card(request: web.Request, lead_id: int) -> dict[str, Any]:
    """What a pop shows of a lead: name, masked first number, source and intent in the user's language, link."""
    try:
        lead = await request.app[DIALER].leads.store.get(lead_id, dealers_of(request))
    except LeadNotFound:
        log.warning("web.screenpop_lead_missing", lead_id=lead_id)
        return {}
    return {
        "name": lead.name,
        "number": mask(lead.phones[0].e164) if lead.phones else None,
        "source": t(request, "web.source." + lead.source.value),
        "intent": None if lead.intent is None else lead.intent.value,
        "url": f"/leads/{lead.id}",
    }


async def _pop_message(request: web.Request, pop: ScreenPop) -> dict[str, Any]:
    """The card for one pop: the event's facts plus the lead's source and intent, in the user's language."""
    message: dict[str, Any] = {
        "type": "pop", "call_id": pop.call_id, "at": to_db(pop.at), "lead_id": pop.lead_id, "name": pop.lead_name,
        "number": None if pop.number is None else mask(pop.number), "new_lead": pop.new_lead,
        "source": None, "intent": None, "url": None,
    }  # fmt: skip
    if pop.lead_id is not None:
        card = await lead_card(request, pop.lead_id)
        message.update({k: v for k, v in card.items() if k != "number"})  # the number that called, not the lead's first
    return message


async def _desk_message(request: web.Request, event: BusEvent) -> dict[str, Any]:
    """One socket message for an event of this agent's phone (see the module doc for the types)."""
    at = to_db(event.at)
    match event:
        case ScreenPop():
            return await _pop_message(request, event)
        case InboundCallEnded():
            return {"type": "ended", "call_id": event.call_id, "at": at, "outcome": event.outcome.value}
        case AgentCallConnected():
            card = await lead_card(request, event.lead_id)
            return {
                "type": "call",
                "at": at,
                "call_id": event.call_id,
                "campaign_id": event.campaign_id,
                "lead_id": event.lead_id,
                **card,
            }
        case WrapUpStarted():
            return {"type": "wrap_up", "at": at, "campaign_id": event.campaign_id, "lead_id": event.lead_id,
                    "attempt_id": event.attempt_id, "ends_at": to_db(event.ends_at), "url": f"/leads/{event.lead_id}"}  # fmt: skip
        case WrapUpEnded():
            return {"type": "wrap_up_ended", "at": at, "lead_id": event.lead_id, "reason": event.reason.value}
        case PreviewOffered() | PreviewWithdrawn():
            return {"type": "preview", "at": at, "lead_id": event.lead_id}
        case PresenceChanged():
            return {
                "type": "presence",
                "at": at,
                "state": event.state.value,
                "reason": event.reason,
                "since": to_db_or_none(event.at),
            }
    raise TypeError(f"no desk message for {type(event).__name__}")  # _DESK_EVENTS and this match list the same kinds


# Every kind of event the desk socket forwards; each has the ``agent`` it concerns.
_DESK_EVENTS: tuple[type[BusEvent], ...] = (
    ScreenPop, InboundCallEnded, AgentCallConnected, WrapUpStarted, WrapUpEnded, PreviewOffered, PreviewWithdrawn, PresenceChanged,
)  # fmt: skip


def addressed_to(event: BusEvent, endpoint: str | None) -> bool:
    """Whether a desk logged in on ``endpoint`` shows ``event``: only its own phone's; no phone, nothing."""
    return isinstance(event, _DESK_EVENTS) and bool(endpoint) and getattr(event, "agent", None) == endpoint


@routes.route(
    "GET",
    "/desk/ws",
    Action.DESK_VIEW,
    "Screen pops, call and wrap-up cards and presence of the agent's phone, as websocket messages",
)
async def desk_ws(request: web.Request) -> web.StreamResponse:
    """Forward the events of this user's own phone; a login without a phone gets none."""
    endpoint = phone_of(request)
    # Subscribed before the handshake completes: a pop published the moment the socket opens is not lost.
    subscription = request.app[DIALER].bus.subscribe(*_DESK_EVENTS)

    async def next_message() -> str:
        while True:
            event = await subscription.get()
            if addressed_to(event, endpoint):
                return json.dumps(await _desk_message(request, event), ensure_ascii=False)

    try:
        ws = await open_socket(request)
        await stream(request, ws, next_message, "desk")
    finally:
        subscription.close()
    return ws
