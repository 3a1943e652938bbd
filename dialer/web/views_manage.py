"""Sales manager: find leads, assign or transfer them, re-activate defeated ones, see who owns what.

The handbook's sales manager hands HQ leads to the DCC on the day they arrive and the showroom's
low-intent and defeated leads every day; the DCC must follow those up within 2 days of the
hand-over. Every change goes through :class:`dialer.leads.service.LeadManager` (one transaction,
a ``transferred`` lead event, a DOSS outbox row); this module only parses, checks roles and renders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dialer.domain.access.policy import Action, Role
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import Lead, LeadSource, LeadState
from dialer.domain.leads.records import LeadQuery
from dialer.leads.service import REASON_MAX_CHARS, ManageError, OwnerSummary
from dialer.web.dealers import dealer_names, dealers_of
from dialer.web.errors import BadRequest, Forbidden
from dialer.web.forms import json_object, parse_int, whole_number
from dialer.web.html import allowed, render, t
from dialer.web.keys import DIALER, console_actor, session_of
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import lead_json, lead_manager, local_time
from dialer.web.views_showroom import MILESTONES
from dialer.web.views_showroom import record as record_milestone

routes = RouteTable()

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200
# A page number past this is no page of any dealer's leads (and would overflow the query's offset).
PAGE_MAX = 100_000
# The owner filter's word for "nobody owns it" (agent endpoints are PBX names, never this word).
UNASSIGNED = "unassigned"
_TRUE = frozenset({"1", "true", "on", "yes"})


# -- parsing: request data -> typed values, every bad field named -------------------------------


def parse_query(data: Mapping[str, str]) -> LeadQuery:
    """The list filters from a query string; :class:`BadRequest` names each bad one."""
    errors: dict[str, str] = {}
    source: LeadSource | None = None
    state: LeadState | None = None
    if raw := data.get("source", ""):
        try:
            source = LeadSource(raw)
        except ValueError:
            errors["source"] = f"{raw!r} is not one of {', '.join(s.value for s in LeadSource)}"
    if raw := data.get("state", ""):
        try:
            state = LeadState(raw)
        except ValueError:
            errors["state"] = f"{raw!r} is not one of {', '.join(s.value for s in LeadState)}"
    owner = data.get("owner", "").strip() or None
    paging: dict[str, int] = {}
    for name, default, top in (("page", 1, PAGE_MAX), ("per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)):
        try:
            value = parse_int(data.get(name), name, default=default)
        except BadRequest as exc:
            errors.update(exc.fields)
            continue
        assert value is not None
        if not 1 <= value <= top:
            errors[name] = f"{value} is not between 1 and {top}"
        paging[name] = value
    if errors:
        raise BadRequest(errors)
    return LeadQuery(
        source=source,
        state=state,
        owner=None if owner == UNASSIGNED else owner,
        unassigned=owner == UNASSIGNED,
        overdue=data.get("overdue", "").lower() in _TRUE,
        page=paging["page"],
        per_page=paging["per_page"],
    )


@dataclass(frozen=True, slots=True)
class LeadMoveRequest:
    """A transfer or re-activation request: which leads, to whom, why."""

    lead_ids: tuple[int, ...]
    to_owner: str | None
    reason: str


def parse_decision(data: Mapping[str, Any], *, owner_required: bool) -> LeadMoveRequest:
    """``{lead_ids, to_owner, reason}`` from JSON or a form; :class:`BadRequest` names each bad field."""
    errors: dict[str, str] = {}
    raw_ids = data.get("lead_ids")
    ids: list[int] = []
    if not isinstance(raw_ids, list) or not raw_ids:
        errors["lead_ids"] = "expected a non-empty list of lead numbers"
    else:
        for value in raw_ids:
            number = None if isinstance(value, bool) else whole_number(str(value))
            if number is None:
                errors["lead_ids"] = f"{str(value)[:40]!r} is not a lead number"
                break
            ids.append(number)
    to_owner = data.get("to_owner")
    if to_owner is not None and not isinstance(to_owner, str):
        errors["to_owner"] = f"{to_owner!r} is not an agent name"
    owner = to_owner.strip() if isinstance(to_owner, str) and to_owner.strip() else None
    if owner_required and owner is None and "to_owner" not in errors:
        errors["to_owner"] = "choose the agent who gets the leads"
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "a reason is required"
    if errors:
        raise BadRequest(errors)
    assert isinstance(reason, str)
    return LeadMoveRequest(tuple(ids), owner, reason)


# -- the work: one place for the page and the API ---------------------------------------------


def _actor(request: web.Request) -> str:
    return console_actor(request)


async def _transfer(request: web.Request, decision: LeadMoveRequest) -> list[dict[str, Any]]:
    """Transfer and report per lead; the leads package's refusals become 400s naming the field."""
    assert decision.to_owner is not None
    with _refusals():
        done = await lead_manager(request).transfer(
            decision.lead_ids, decision.to_owner, _actor(request), decision.reason, dealers_of(request)
        )
    return [{"lead_id": d.lead.id, "result": "transferred" if d.changed else "unchanged", "from": d.previous_owner,
             "to": d.lead.owner} for d in done]  # fmt: skip


async def _reactivate(request: web.Request, decision: LeadMoveRequest) -> list[dict[str, Any]]:
    # The page's form is declared with lead.assign and the API with lead.reactivate: each needs the other too.
    if not allowed(request, Action.LEAD_REACTIVATE) or (
        decision.to_owner is not None and not allowed(request, Action.LEAD_ASSIGN)
    ):
        raise Forbidden("forbidden", "re-activating (and assigning) leads is not allowed for this role")
    with _refusals():
        done = await lead_manager(request).reactivate(
            decision.lead_ids, _actor(request), decision.reason, decision.to_owner, dealers_of(request)
        )
    return [{"lead_id": d.lead.id, "result": "reactivated", "owner": d.lead.owner,
             "transferred": d.transfer is not None and d.transfer.changed} for d in done]  # fmt: skip


async def _milestone(
    request: web.Request, raw_ids: list[str], state: LeadState, posted: Mapping[str, object]
) -> list[Lead]:
    """The selected leads' visit or deal (the showroom's form on this page), all or none."""
    if not allowed(request, Action.MILESTONE_RECORD):
        raise Forbidden("forbidden", "recording visits and deals is not allowed for this role")
    if not raw_ids or not all(i.isdigit() for i in raw_ids):
        raise BadRequest({"lead_ids": "select the leads that came to the store or bought"})
    fields = {k: posted[k] for k in ("at", "test_drive", "model") if k in posted}
    return await record_milestone(request, [int(i) for i in raw_ids], state, fields)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turns what LeadManager refuses into a 400 naming the field, so the page and the API agree."""
    try:
        yield
    except ManageError as exc:
        raise BadRequest({exc.field: f"{exc.value!r}: {exc.reason}"}) from None
    except (LeadNotFound, LeadStateError) as exc:
        raise BadRequest({"lead_ids": str(exc)}) from None


def _visible_owner(request: web.Request, query: LeadQuery) -> LeadQuery:
    """Agents see only their own leads, whatever the filter asked for."""
    user = session_of(request).user
    if user.role is not Role.AGENT:
        return query
    return dataclasses.replace(query, owner=user.agent or "", unassigned=False)


def _summary_json(summary: OwnerSummary) -> dict[str, Any]:
    return {
        "by_state": {s.value: n for s, n in summary.by_state.items()},
        "total": summary.total,
        "overdue": summary.overdue,
    }


# -- the API ----------------------------------------------------------------------------------

_LIST_PARAMS = (
    Param("source", "lead source (hq, web, low_intent, defeated, ...)"),
    Param("state", "lead state (new, following, defeated, ...)"),
    Param("owner", f"agent endpoint, or {UNASSIGNED!r}; agents always get their own"),
    Param("overdue", "1: only leads whose deadline has passed"),
    Param("page", "from 1", "integer"),
    Param("per_page", f"1 to {PER_PAGE_MAX} (default {PER_PAGE_DEFAULT})", "integer"),
)


@routes.route(
    "GET", "/api/leads", Action.LEAD_VIEW, "Leads by source, state, owner and overdue, one page", query=_LIST_PARAMS
)
async def api_leads(request: web.Request) -> web.StreamResponse:
    """A page of leads; managers, supervisors and QA see all, agents only their own."""
    query = _visible_owner(request, parse_query(request.query))
    found = await request.app[DIALER].leads.search(query, dealers_of(request))
    return web.json_response({"leads": [lead_json(lead) for lead in found.leads], "total": found.total, "page": query.page,
                              "per_page": query.per_page})  # fmt: skip


@routes.route("GET", "/api/ownership", Action.LEAD_VIEW, "Leads per owner by state, overdue per owner, unassigned")
async def api_ownership(request: web.Request) -> web.StreamResponse:
    """The ownership summary; an agent gets only their own line."""
    user = session_of(request).user
    summary = await request.app[DIALER].leads.ownership(
        owner=(user.agent or "") if user.role is Role.AGENT else None, dealers=dealers_of(request)
    )
    return web.json_response({"owners": [{"owner": o.owner, **_summary_json(o)} for o in summary.owners],
                              "unassigned": _summary_json(summary.unassigned)})  # fmt: skip


@routes.route("POST", "/api/leads/transfer", Action.LEAD_ASSIGN, "Assign or transfer leads to an agent, with a reason",
              body="application/json")  # fmt: skip
async def api_transfer(request: web.Request) -> web.StreamResponse:
    """``{lead_ids, to_owner, reason}`` -> per lead ``transferred`` or ``unchanged``; all or nothing."""
    results = await _transfer(request, parse_decision(await json_object(request), owner_required=True))
    return web.json_response({"results": results})


@routes.route("POST", "/api/leads/reactivate", Action.LEAD_REACTIVATE, "Re-activate defeated leads (and assign them)",
              body="application/json")  # fmt: skip
async def api_bulk_reactivate(request: web.Request) -> web.StreamResponse:
    """``{lead_ids, to_owner?, reason}`` -> per lead ``reactivated``; all defeated or nothing happens."""
    results = await _reactivate(request, parse_decision(await json_object(request), owner_required=False))
    return web.json_response({"results": results})


# -- the page ---------------------------------------------------------------------------------


def _filter_values(query: LeadQuery) -> dict[str, str]:
    """The query as the filter form and the pager's links carry it."""
    values = {
        "source": "" if query.source is None else query.source.value,
        "state": "" if query.state is None else query.state.value,
        "owner": UNASSIGNED if query.unassigned else (query.owner or ""),
        "overdue": "1" if query.overdue else "",
        "per_page": "" if query.per_page == PER_PAGE_DEFAULT else str(query.per_page),
    }
    return {k: v for k, v in values.items() if v}


async def _manage_page(
    request: web.Request, query: LeadQuery, *, notice: str = "", errors: Mapping[str, str] | None = None,
    form: Mapping[str, Any] | None = None, status: int = 200,
) -> web.Response:  # fmt: skip
    app = request.app[DIALER]
    agents = await app.leads.agents(dealers_of(request))
    found = await app.leads.search(query, dealers_of(request))
    summary = await app.leads.ownership(dealers=dealers_of(request))
    errors = errors or {}
    form = form or {}
    filters = _filter_values(query)
    any_ = [("", t(request, "web.manage.any"))]
    pages = max(1, math.ceil(found.total / query.per_page))
    pager = {
        "page": query.page, "pages": pages, "total": found.total,
        "links": [(step, urlencode({**filters, "page": target}))
                  for step, target in (("prev", query.page - 1), ("next", query.page + 1)) if 1 <= target <= pages],
    }  # fmt: skip
    return render(
        request, "manage.html", t(request, "web.manage.title"), status=status, filters=filters, errors=errors,
        form=form, result=notice or "; ".join(errors.values()), leads=found.leads, now=app.clock.now(),
        dealer_codes=await dealer_names(request) if dealers_of(request).mixed else {},
        when=partial(local_time, request), selected={whole_number(str(i)) for i in form.get("lead_ids", ())} - {None},
        sources=any_ + [(s.value, t(request, "web.source." + s.value)) for s in LeadSource],
        states=any_ + [(s.value, t(request, "web.state." + s.value)) for s in LeadState],
        owners=any_ + [(UNASSIGNED, t(request, "web.manage.unassigned"))] + [(a, a) for a in agents],
        owner_choices=[("", t(request, "web.manage.choose"))] + [(a, a) for a in agents], pager=pager,
        reason_max=REASON_MAX_CHARS, may_reactivate=allowed(request, Action.LEAD_REACTIVATE),
        may_record=allowed(request, Action.MILESTONE_RECORD),
        ownership=[*summary.owners, summary.unassigned], unassigned=UNASSIGNED,
        ownership_states=[s for s in LeadState if any(s in o.by_state for o in (*summary.owners, summary.unassigned))],
    )  # fmt: skip


@routes.route("GET", "/manage", Action.LEAD_ASSIGN, "Sales manager: filter, assign, transfer, re-activate, ownership")
async def manage(request: web.Request) -> web.StreamResponse:
    """The page; ``transferred``/``unchanged``/``reactivated`` in the query report the last action."""
    query = parse_query(request.query)
    notice = ""
    done = {
        k: request.query[k]
        for k in ("transferred", "unchanged", "reactivated", *MILESTONES)
        if request.query.get(k, "").isdigit()
    }
    if "visit" in done or "deal" in done:
        notice = t(request, "web.manage.milestones", visits=done.get("visit", "0"), deals=done.get("deal", "0"))
    elif "reactivated" in done:
        notice = t(request, "web.manage.reactivated", count=done["reactivated"])
    elif "transferred" in done:
        notice = t(
            request, "web.manage.transferred", transferred=done["transferred"], unchanged=done.get("unchanged", "0")
        )
    return await _manage_page(request, query, notice=notice)


@routes.route("POST", "/manage", Action.LEAD_ASSIGN, "Sales manager: transfer or re-activate the selected leads (form)")
async def manage_post(request: web.Request) -> web.StreamResponse:
    """Apply the form's decision, then back to the same filters with the result; errors next to their field."""
    posted = await request.post()
    filters = {k: str(v) for k, v in posted.items() if k in ("source", "state", "owner", "overdue", "per_page", "page")}
    query = parse_query(filters)
    form: dict[str, Any] = {"lead_ids": [str(v) for v in posted.getall("lead_ids", [])], "to_owner": str(posted.get("to_owner") or ""),
                            "reason": str(posted.get("reason") or "")}  # fmt: skip
    op = str(posted.get("op") or "transfer")
    try:
        if op in MILESTONES:
            counts = {op: len(await _milestone(request, form["lead_ids"], MILESTONES[op], posted))}
            raise web.HTTPSeeOther("/manage?" + urlencode({**_filter_values(query), **counts}))
        decision = parse_decision(form, owner_required=op != "reactivate")
        if op == "reactivate":
            results = await _reactivate(request, decision)
            counts = {"reactivated": len(results)}
        else:
            results = await _transfer(request, decision)
            counts = {k: sum(r["result"] == k for r in results) for k in ("transferred", "unchanged")}
    except BadRequest as exc:
        return await _manage_page(request, query, errors=exc.fields or {"_": exc.message}, form=form, status=400)
    raise web.HTTPSeeOther("/manage?" + urlencode({**_filter_values(query), **counts}))
