"""The showroom's news from the console: a visit (到店, with or without a test drive 试乘试驾) or a deal (成交).

The lead card, the desk's visit list and the manager's page post the same forms; the API takes the
same fields as JSON. Each is one DOSS change (the lead's state and its outbox row in one transaction,
``DossService.record_milestones``), recorded as the logged-in user (``web:<name>``), exactly as
``dialer leads visit`` / ``dialer leads deal`` do. Which state change is possible is the lead model's
rule; a refusal names the lead and its state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.doss.errors import FormError
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import Lead, LeadState
from dialer.web.errors import BadRequest
from dialer.web.forms import json_object, parse_milestone
from dialer.web.keys import DIALER, SETTINGS, console_actor
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import lead_for, lead_json, lead_page  # the lead card and its access rule

routes = RouteTable()

# Where a form may send the user back after recording (never an address from elsewhere).
_BACK = re.compile(r"^/(desk|leads/\d+)$")
MILESTONES = {"visit": LeadState.VISITED, "deal": LeadState.DEAL}


async def record(
    request: web.Request, lead_ids: Sequence[int], state: LeadState, data: Mapping[str, object]
) -> list[Lead]:
    """Parse the fields and record the milestone for every lead (all or none); a 400 names what is wrong."""
    parsed = parse_milestone(data, ZoneInfo(request.app[SETTINGS].dealer.timezone))
    actor = console_actor(request)
    try:
        done = await request.app[DIALER].doss.record_milestones(
            lead_ids, state, actor, parsed.note, at=parsed.at, test_drive=parsed.test_drive, model=parsed.model
        )
    except FormError as exc:
        raise BadRequest({exc.field: str(exc).removeprefix(f"{exc.field}: ")}) from None
    except (LeadStateError, LeadNotFound) as exc:
        raise BadRequest({"state": str(exc)}) from None
    return [d.lead for d in done]


async def _form(request: web.Request, state: LeadState) -> web.StreamResponse:
    lead = await lead_for(request, Action.MILESTONE_RECORD)
    posted = await request.post()
    data = {k: str(v) for k, v in posted.items() if k != "csrf_token"}
    try:
        await record(request, [lead.id], state, data)
    except BadRequest as exc:
        return await lead_page(request, lead, errors=exc.fields or {"_": exc.message}, status=400)
    back = data.get("next", "")
    raise web.HTTPSeeOther(back if _BACK.match(back) else f"/leads/{lead.id}?saved=1")


async def _api(request: web.Request, state: LeadState) -> web.StreamResponse:
    lead = await lead_for(request, Action.MILESTONE_RECORD)
    body = await json_object(request, empty=True)
    return web.json_response(lead_json((await record(request, [lead.id], state, body))[0]))


@routes.route("POST", "/leads/{lead_id:\\d+}/visit", Action.MILESTONE_RECORD, "The customer came to the store (form)")
async def visit(request: web.Request) -> web.StreamResponse:
    """Fields ``at`` (empty: now), ``test_drive``, ``note``, ``next`` (/desk or the lead's page)."""
    return await _form(request, LeadState.VISITED)


@routes.route("POST", "/leads/{lead_id:\\d+}/deal", Action.MILESTONE_RECORD, "The customer bought (form)")
async def deal(request: web.Request) -> web.StreamResponse:
    """Fields ``at`` (empty: now), ``model``, ``note``, ``next`` (/desk or the lead's page)."""
    return await _form(request, LeadState.DEAL)


_AT = Param("at", "when, dealer local YYYY-MM-DDTHH:MM or ISO with an offset; default now; never in the future")
_NOTE = Param("note", "for DOSS's note column")


@routes.route("POST", "/api/leads/{lead_id:\\d+}/visit", Action.MILESTONE_RECORD, "Record a store visit",
              body="application/json", fields=(_AT, Param("test_drive", "the customer test-drove (试乘试驾)", "boolean"), _NOTE))  # fmt: skip
async def api_visit(request: web.Request) -> web.StreamResponse:
    """The lead after the visit; 400 naming ``at``/``test_drive`` or ``state`` (e.g. already visited)."""
    return await _api(request, LeadState.VISITED)


@routes.route("POST", "/api/leads/{lead_id:\\d+}/deal", Action.MILESTONE_RECORD, "Record a deal",
              body="application/json", fields=(_AT, Param("model", "the model bought"), _NOTE))  # fmt: skip
async def api_deal(request: web.Request) -> web.StreamResponse:
    """The lead after the deal; 400 naming ``at``/``model`` or ``state`` (e.g. already a deal)."""
    return await _api(request, LeadState.DEAL)
