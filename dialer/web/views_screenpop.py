"""Screen pops on the agent desk: the caller's lead card appears the moment the agent's phone takes an inbound call.

The inbound service publishes :class:`~dialer.inbound.service.ScreenPop` (and
:class:`~dialer.inbound.service.InboundCallEnded`) on the dialer's event bus; the desk page
keeps a websocket open, and each socket forwards only the events of its user's own phone
(the login's agent endpoint), so a colleague's caller never shows on the wrong screen.
The card shows the number masked, like every screen that does not need the full number.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dialer.access.policy import Action
from dialer.events.bus import BusEvent
from dialer.inbound.service import InboundCallEnded, ScreenPop
from dialer.leads.errors import LeadNotFound
from dialer.logging import get_logger
from dialer.phone import mask
from dialer.store.timestamps import to_db
from dialer.web.html import esc, t
from dialer.web.keys import DIALER, session_of
from dialer.web.routing import RouteTable
from dialer.web.sockets import open_socket, stream

log = get_logger(__name__)
routes = RouteTable()

# The card's fields: (element id, i18n key of the label); the script fills them from each pop.
_FIELDS = (
    ("pop-name", "web.col.name"),
    ("pop-number", "web.col.phone"),
    ("pop-source", "web.col.source"),
    ("pop-intent", "web.col.intent"),
)

_SCRIPT = """
(() => {
  const box = document.getElementById("screenpop");
  const el = id => document.getElementById(id);
  let current = null;
  function show(m) {
    if (m.type === "pop") {
      current = m.call_id;
      el("pop-name").textContent = m.name || "-"; el("pop-number").textContent = m.number || "-";
      el("pop-source").textContent = m.source || "-"; el("pop-intent").textContent = m.intent || "-";
      el("pop-new").hidden = !m.new_lead; el("pop-ended").hidden = true;
      const link = el("pop-link"); link.hidden = !m.url; if (m.url) link.href = m.url;
      box.hidden = false;
    } else if (m.type === "ended" && m.call_id === current) {
      el("pop-ended").hidden = false;
    }
  }
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/desk/ws");
    ws.onmessage = e => show(JSON.parse(e.data));
    ws.onclose = () => setTimeout(connect, 2000);
  }
  connect();
})();
"""


def panel(request: web.Request) -> tuple[str, str]:
    """The desk's screen-pop card (hidden until a call comes in) and the script that fills it."""
    rows = "".join(f'<tr><th>{esc(t(request, key))}</th><td id="{fid}">-</td></tr>' for fid, key in _FIELDS)
    html = (
        f'<section id="screenpop" class="card" hidden><h2>{esc(t(request, "web.pop.title"))}'
        f' <span id="pop-new" class="overdue" hidden>{esc(t(request, "web.pop.new_lead"))}</span>'
        f' <span id="pop-ended" hidden>{esc(t(request, "web.pop.ended"))}</span></h2>'
        f'<table id="pop-card">{rows}</table><a id="pop-link" hidden>{esc(t(request, "web.pop.open_lead"))}</a></section>'
    )
    return html, _SCRIPT


async def _pop_message(request: web.Request, pop: ScreenPop) -> dict[str, Any]:
    """The card for one pop: the event's facts plus the lead's source and intent, in the user's language."""
    message: dict[str, Any] = {
        "type": "pop", "call_id": pop.call_id, "at": to_db(pop.at), "lead_id": pop.lead_id, "name": pop.lead_name,
        "number": None if pop.number is None else mask(pop.number), "new_lead": pop.new_lead,
        "source": None, "intent": None, "url": None,
    }  # fmt: skip
    if pop.lead_id is None:
        return message
    try:
        lead = await request.app[DIALER].leads.store.get(pop.lead_id)
    except LeadNotFound:
        log.warning("web.screenpop_lead_missing", lead_id=pop.lead_id)
        return message
    message.update(
        name=lead.name,
        source=t(request, "web.source." + lead.source.value),
        intent=None if lead.intent is None else lead.intent.value,
        url=f"/leads/{lead.id}",
    )
    return message


def _ended_message(ended: InboundCallEnded) -> dict[str, Any]:
    return {"type": "ended", "call_id": ended.call_id, "at": to_db(ended.at), "outcome": ended.outcome.value}


def addressed_to(event: BusEvent, endpoint: str | None) -> bool:
    """Whether a desk logged in on ``endpoint`` shows ``event``: only its own phone's calls; no phone, no calls."""
    return isinstance(event, ScreenPop | InboundCallEnded) and bool(endpoint) and event.agent == endpoint


@routes.route("GET", "/desk/ws", Action.DESK_VIEW, "Screen pops for the logged-in agent's phone, as websocket messages")
async def desk_ws(request: web.Request) -> web.StreamResponse:
    """Forward the pops and call ends of this user's own phone; a login without a phone gets none."""
    endpoint = session_of(request).user.agent
    # Subscribed before the handshake completes: a pop published the moment the socket opens is not lost.
    subscription = request.app[DIALER].bus.subscribe(ScreenPop, InboundCallEnded)

    async def next_message() -> str:
        while True:
            event = await subscription.get()
            if not addressed_to(event, endpoint):
                continue
            if isinstance(event, ScreenPop):
                return json.dumps(await _pop_message(request, event), ensure_ascii=False)
            if isinstance(event, InboundCallEnded):
                return json.dumps(_ended_message(event), ensure_ascii=False)

    try:
        ws = await open_socket(request)
        await stream(ws, next_message, "desk")
    finally:
        subscription.close()
    return ws
