"""Preview dialing on the agent desk: the offered lead's card with Accept / Skip, as page forms and JSON.

The offers live in the campaign runners of this process (:class:`~dialer.campaigns.registry.RunnerRegistry`
under the ``RUNNERS`` app key). Only the agent whose phone the call would ring may answer an
offer: accepting connects that person's headset, so nobody else (a supervisor included) can
decide it for them. A lead offered to someone else is refused with 403; no offer at all is 404.
The card shows the lead whether or not the agent owns it: the campaign chose this agent.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dialer.campaigns.runner import CampaignRunner, PreviewOffer
from dialer.domain.access.policy import Action
from dialer.domain.campaigns.errors import CampaignError
from dialer.phone import mask
from dialer.timestamps import to_db_or_none
from dialer.web.dealers import phone_of
from dialer.web.errors import BadRequest, Forbidden, NotFound, WebError
from dialer.web.forms import json_object, parse_int
from dialer.web.html import t
from dialer.web.keys import DIALER, RUNNERS
from dialer.web.routing import RouteTable
from dialer.web.views_desk import event_label, lead_json, local_time

routes = RouteTable()

# The desk shows this many of the newest history entries on the card; the rest is on the lead page.
_CARD_HISTORY = 10


class OfferConflict(WebError):
    """The offer changed under the click (already accepted, expired); reload and decide again."""

    status = 409


def _own_offer(request: web.Request) -> tuple[CampaignRunner, PreviewOffer]:
    """The offer of the lead in the URL, if it waits on the logged-in agent's desk."""
    lead_id = parse_int(request.match_info["lead_id"], "lead_id")
    runners = request.app[RUNNERS]
    agent = phone_of(request)
    offered = [o for o in runners.offers() if o.lead_id == lead_id]
    mine = next((o for o in offered if agent is not None and o.agent == agent), None)
    if mine is None:
        if offered:
            raise Forbidden("not_own_offer", f"lead {lead_id} is offered to another agent")
        raise NotFound("no_offer", f"lead {lead_id} is not offered to anyone right now")
    runner = runners.get(mine.campaign_id)
    assert runner is not None, "the offer was just read from this runner, with no await in between"
    return runner, mine


def _accept(request: web.Request) -> PreviewOffer:
    runner, offer = _own_offer(request)
    try:
        return runner.accept_preview(offer.agent)
    except CampaignError as exc:
        raise OfferConflict("offer_changed", str(exc)) from None


async def _skip(runner: CampaignRunner, offer: PreviewOffer, reason: str) -> PreviewOffer:
    if not reason.strip():
        raise BadRequest({"reason": "say why the lead is skipped"})
    try:
        return await runner.skip_preview(offer.agent, reason)
    except CampaignError as exc:
        raise OfferConflict("offer_changed", str(exc)) from None


def _offers_of_user(request: web.Request) -> list[PreviewOffer]:
    agent = phone_of(request)
    return [] if agent is None else request.app[RUNNERS].offers_for(agent)


async def _offer_json(request: web.Request, offer: PreviewOffer) -> dict[str, Any]:
    store = request.app[DIALER].leads.store
    lead = await store.get(offer.lead_id)
    return {
        "campaign_id": offer.campaign_id, "agent": offer.agent, "lead_id": offer.lead_id, "reason": offer.pick.reason.value,
        "offered_at": to_db_or_none(offer.offered_at), "expires_at": to_db_or_none(offer.expires_at),
        "accepted_at": to_db_or_none(offer.accepted_at), "lead": lead_json(lead, await store.events(lead.id)),
    }  # fmt: skip


async def preview_offers(request: web.Request) -> list[dict[str, object]]:
    """The desk's preview cards (templates/desk/_preview.html): one per offer waiting on this agent."""
    return [await _card(request, offer) for offer in _offers_of_user(request)]


async def _card(request: web.Request, offer: PreviewOffer) -> dict[str, object]:
    store = request.app[DIALER].leads.store
    lead = await store.get(offer.lead_id)
    events = await store.events(lead.id)
    facts = [
        ("web.col.name", lead.name), ("web.col.phone", ", ".join(mask(p.e164) for p in lead.phones)),
        ("web.col.source", t(request, "web.source." + lead.source.value)), ("web.col.intent", lead.intent.value if lead.intent else ""),
        ("web.col.model", lead.model or ""), ("web.col.owner", lead.owner or ""),
        ("web.col.due_kind", t(request, "web.due." + (lead.due_kind or "none"))), ("web.col.due_at", local_time(request, lead.due_at)),
        ("web.col.defeat_reason", lead.defeat_reason or ""), ("web.preview.why", t(request, "web.pick." + offer.pick.reason.value)),
    ]  # fmt: skip
    return {
        "lead_id": lead.id,
        "facts": facts,
        "history": [
            (local_time(request, e.at), event_label(request, e.kind), e.actor)
            for e in list(reversed(events))[:_CARD_HISTORY]
        ],
        "accepted": offer.accepted_at is not None,
        "expires": local_time(request, offer.expires_at),
    }


@routes.route("GET", "/api/preview", Action.DESK_VIEW, "The preview offers waiting on my desk, with each lead's card")
async def api_offers(request: web.Request) -> web.StreamResponse:
    """Empty for anyone without an agent endpoint (nothing is ever offered to them)."""
    return web.json_response({"offers": [await _offer_json(request, o) for o in _offers_of_user(request)]})


@routes.route(
    "POST", "/api/preview/{lead_id:\\d+}/accept", Action.DESK_VIEW, "Accept my preview offer: the call goes out to me"
)
async def api_accept(request: web.Request) -> web.StreamResponse:
    """403 when the lead is offered to someone else, 404 when to nobody, 409 when already accepted or expired."""
    return web.json_response(await _offer_json(request, _accept(request)))


@routes.route("POST", "/api/preview/{lead_id:\\d+}/skip", Action.DESK_VIEW, "Skip my preview offer (JSON body: reason)",
              body="application/json")  # fmt: skip
async def api_skip(request: web.Request) -> web.StreamResponse:
    """The lead goes back to the hopper with no attempt counted; the answer is the skipped offer."""
    runner, offer = _own_offer(request)  # who may skip is decided before the body is read
    body = await json_object(request)
    if not isinstance(body.get("reason"), str):
        raise BadRequest({"reason": "expected a JSON object with a reason text"})
    skipped = await _skip(runner, offer, body["reason"])
    return web.json_response({"campaign_id": skipped.campaign_id, "lead_id": skipped.lead_id, "skipped": True})


@routes.route("POST", "/desk/preview/{lead_id:\\d+}/accept", Action.DESK_VIEW, "Accept my preview offer (form)")
async def accept(request: web.Request) -> web.StreamResponse:
    """Back to the desk, which shows the accepted card until the call goes out."""
    _accept(request)
    raise web.HTTPSeeOther("/desk")


@routes.route("POST", "/desk/preview/{lead_id:\\d+}/skip", Action.DESK_VIEW, "Skip my preview offer (form)")
async def skip(request: web.Request) -> web.StreamResponse:
    """Back to the desk, which shows the next offer."""
    runner, offer = _own_offer(request)
    reason = (await request.post()).get("reason")
    await _skip(runner, offer, reason if isinstance(reason, str) else "")
    raise web.HTTPSeeOther("/desk")
