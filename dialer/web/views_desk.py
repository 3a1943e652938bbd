"""The agent desk: due list and callbacks, the lead card, the disposition form; re-activation of defeated leads.

Also the agent's phone: presence (log in, log out, pause with a reason, resume; see
:mod:`dialer.campaigns.presence`) and the card of the campaign call they are on or owe a
disposition for. A disposition for a lead whose wrap-up the agent owes goes through the
campaign runner (:meth:`~dialer.campaigns.runner.CampaignRunner.submit_disposition`), which
ends the wrap-up and frees the agent for the next call; any other goes to DOSS directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.campaigns.runner import CampaignRunner, WrapUp
from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Action, Resource, Role, can
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.presence import PresenceCommand, PresenceRefused, board_state
from dialer.domain.doss.errors import FormError
from dialer.domain.doss.mapping import Disposition, FollowUpPurpose
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import TRANSITIONS, IntentLevel, Lead, LeadState
from dialer.domain.leads.records import LeadEvent
from dialer.leads.service import DueItem, DueScope, LeadManager, ManageError
from dialer.phone import mask
from dialer.timestamps import to_db_or_none
from dialer.web import views_browser_phone, views_screenpop
from dialer.web.dealers import dealers_of, own_phone, phone_of
from dialer.web.errors import BadRequest, Forbidden, NotFound, WebError
from dialer.web.forms import json_object, parse_disposition, parse_int, parse_presence_body
from dialer.web.history import sentence
from dialer.web.html import allowed, policy_user, render, t
from dialer.web.keys import DIALER, MAPPING, RUNNERS, SETTINGS, console_actor, session_of
from dialer.web.routing import Param, RouteTable
from dialer.web.views_promotions import running_cards

routes = RouteTable()


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SETTINGS].dealer.timezone)


def local_time(request: web.Request, when: datetime | None) -> str:
    return "" if when is None else when.astimezone(_tz(request)).strftime("%Y-%m-%d %H:%M")


async def lead_owner_for(request: web.Request, lead: Lead) -> str | None:
    """Whose the lead counts as for this user's lead routes: the agent's own while they talk with the
    customer and for the wrap-up after (until they file the call's result, at most
    ``campaigns.wrap_up_timeout_s``), campaign or inbound, since a campaign or the inbound queue may put
    anyone's lead through to them; otherwise its owner. A talk whose end never reached the dialer (a lost
    hang-up) counts for at most ``web.unended_talk_s`` after it was put through, not forever.
    The one place this is decided; every lead route asks it."""
    agent = phone_of(request)
    if not agent or lead.owner == agent:
        return lead.owner
    if lead.id in request.app[RUNNERS].leads_in_hand(agent):
        return agent
    app = request.app[DIALER]
    talk = await app.attempts.last_talk(lead.id, agent)
    if talk is None:
        return lead.owner
    now = app.clock.now()
    if talk.ended_at is None:
        connected = talk.connected_at or talk.created_at
        return agent if now - connected <= timedelta(seconds=app.settings.web.unended_talk_s) else lead.owner
    window = timedelta(seconds=app.settings.campaigns.wrap_up_timeout_s)
    if now - talk.ended_at <= window and not await app.doss.filed(talk.id):
        return agent
    return lead.owner


async def lead_for(request: web.Request, action: Action) -> Lead:
    """The lead in the URL, if the user may do ``action`` on it (an agent: leads they own or have in hand)."""
    lead_id = parse_int(request.match_info["lead_id"], "lead_id")
    assert lead_id is not None
    try:
        lead = await request.app[DIALER].leads.store.get(lead_id, dealers_of(request))
    except LeadNotFound:
        raise NotFound("lead_not_found", f"lead {lead_id} does not exist") from None
    user = policy_user(request)
    assert user is not None
    if not can(user, action, Resource(agent=await lead_owner_for(request, lead))):
        raise Forbidden("not_own_lead", f"lead {lead_id} belongs to another agent")
    return lead


def _my_wrap_up(request: web.Request, lead_id: int) -> tuple[CampaignRunner, WrapUp] | None:
    """The runner waiting for this user's disposition of ``lead_id``, and that wrap-up; None if none."""
    agent = phone_of(request)
    found = request.app[RUNNERS].wrap_up_of(agent) if agent else None
    return found if found is not None and found[1].lead_id == lead_id else None


async def _due_for(request: web.Request) -> list[DueItem]:
    """Agents see their own list; a supervisor sees everyone's, or one agent's with ?owner=."""
    user = session_of(request).user
    owner = user.agent if user.role is Role.AGENT else (request.query.get("owner") or None)
    scope_text = request.query.get("scope", DueScope.TODAY.value)
    try:
        scope = DueScope(scope_text)
    except ValueError:
        raise BadRequest({"scope": f"{scope_text!r} is not one of {', '.join(s.value for s in DueScope)}"}) from None
    return await request.app[DIALER].leads.due(scope, owner=owner, dealers=dealers_of(request))


def lead_json(lead: Lead, events: list[LeadEvent] | None = None) -> dict[str, Any]:
    """A lead for the API: enums as values, times as UTC ISO-8601, full numbers (the caller may see them)."""
    data: dict[str, Any] = {
        "id": lead.id, "name": lead.name, "source": lead.source.value, "state": lead.state.value,
        "intent": None if lead.intent is None else lead.intent.value, "model": lead.model, "owner": lead.owner,
        "phones": [p.e164 for p in lead.phones], "due_at": to_db_or_none(lead.due_at), "due_kind": lead.due_kind,
        "callback_at": to_db_or_none(lead.callback_at), "visit_at": to_db_or_none(lead.visit_at),
        "visit_confirmed_at": to_db_or_none(lead.visit_confirmed_at),
        "defeat_reason": lead.defeat_reason, "first_contact_at": to_db_or_none(lead.first_contact_at),
        "last_contact_at": to_db_or_none(lead.last_contact_at), "note": lead.note,
    }  # fmt: skip
    if events is not None:
        data["history"] = [
            {"id": e.id, "kind": e.kind, "at": to_db_or_none(e.at), "actor": e.actor, "data": dict(e.data)}
            for e in events
        ]
    return data


def event_label(request: web.Request, kind: str) -> str:
    """Other packages add event kinds of their own; one without a label shows as its code."""
    key = "web.event." + kind
    label = t(request, key)
    return kind if label == key else label


@routes.route("GET", "/desk", Action.DESK_VIEW, "The agent desk: today's due leads and callbacks")
async def desk(request: web.Request) -> web.StreamResponse:
    """My callbacks and my due leads, overdue first in red."""
    items = await _due_for(request)
    callbacks = [i for i in items if i.lead.due_kind == "callback"]
    others = [i for i in items if i.lead.due_kind != "callback"]
    # Imported here: views_preview builds on this module's lead helpers, so at load time the import points one way.
    from dialer.web.views_preview import preview_offers

    user = session_of(request).user
    board = await request.app[DIALER].leads.visits(user.agent if user.role is Role.AGENT else None, dealers_of(request))
    return render(
        request, "desk/desk.html", t(request, "web.desk.title"), phone=await _phone(request),
        offers=await preview_offers(request), scopes=[s.value for s in DueScope], callbacks=callbacks, others=others,
        when=partial(local_time, request), visits=board,
        may_record=allowed(request, Action.MILESTONE_RECORD), promotions=await running_cards(request),
        # The one-click call (views_calls): rings this user's phone, so only for a login with one.
        may_call=bool(user.agent) and allowed(request, Action.CALL_PLACE), now=request.app[DIALER].clock.now(),
        browser_phone=views_browser_phone.panel(request),
    )  # fmt: skip


@routes.route("GET", "/api/leads/due", Action.DESK_VIEW, "Due leads (own for agents; ?owner= for supervisors)",
              query=(Param("scope", "overdue, today (default) or all"), Param("owner", "supervisors: one agent's list")))  # fmt: skip
async def api_due(request: web.Request) -> web.StreamResponse:
    """The due list as JSON."""
    items = await _due_for(request)
    return web.json_response({"leads": [{**lead_json(i.lead), "overdue": i.overdue} for i in items]})


def _disposition_choices(request: web.Request, lead: Lead) -> dict[str, object]:
    """The disposition form's choices (templates/desk/lead.html): dispositions, defeat reasons, intents, purposes."""
    dispositions = [
        (d.value, t(request, f"web.disposition.{d.value}")) for d in Disposition if d is not Disposition.NO_CONTACT
    ]
    return {
        "dispositions": dispositions,
        "reasons": [("", "")] + [(r, r) for r in request.app[MAPPING].defeat_reasons],
        "intents": [("", "")] + [(i.value, i.value) for i in IntentLevel],
        "purposes": [("", "")] + [(p.value, t(request, f"web.purpose.{p.value}")) for p in FollowUpPurpose],
        "model": lead.model or "",
    }


async def transfer_targets(request: web.Request) -> list[tuple[str, str]]:
    """Where the call card may hand a customer (endpoint, label): the colleagues' phones, the 电话直销员's
    and the showroom's (``[calls] telesales_endpoint`` / ``showroom_endpoint``); never a number."""
    me = phone_of(request)
    calls = request.app[SETTINGS].calls
    # The call is on this node's PBX, whose phones are its dealer's: colleagues of that dealer only.
    targets = [(u.agent, f"{u.name} ({u.agent})")
               for u in await request.app[DIALER].auth.users(DealerScope.of(request.app[DIALER].dealer.id))
               if u.agent and u.agent != me and u.disabled_at is None]  # fmt: skip
    for endpoint, key in (
        (calls.telesales_endpoint, "web.transfer.telesales"),
        (calls.showroom_endpoint, "web.transfer.showroom"),
    ):
        if endpoint and endpoint != me:
            targets.append((endpoint, f"{t(request, key)} ({endpoint})"))
    return targets


async def lead_page(request: web.Request, lead: Lead, *, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None, notice: str = "", status: int = 200,
                     transfer: dict[str, object] | None = None) -> web.Response:  # fmt: skip
    app = request.app[DIALER]
    settings = request.app[SETTINGS]
    events = await app.leads.store.events(lead.id)
    user = session_of(request).user
    script_params = {"dealer": settings.dealer.name, "agent": user.name}
    facts = [
        ("web.col.name", lead.name), ("web.col.phone", ", ".join(mask(p.e164) for p in lead.phones)),
        ("web.col.source", t(request, "web.source." + lead.source.value)), ("web.col.state", t(request, "web.state." + lead.state.value)),
        ("web.col.intent", lead.intent.value if lead.intent else ""), ("web.col.model", lead.model or ""),
        ("web.col.owner", lead.owner or ""), ("web.col.due_kind", t(request, "web.due." + (lead.due_kind or "none"))),
        ("web.col.due_at", local_time(request, lead.due_at)), ("web.col.callback_at", local_time(request, lead.callback_at)),
        ("web.col.visit_at", local_time(request, lead.visit_at)), ("web.col.defeat_reason", lead.defeat_reason or ""),
    ]  # fmt: skip
    history = [
        (local_time(request, e.at), event_label(request, e.kind), e.actor,
         sentence(e, lambda key, **params: t(request, key, **params), lambda at: local_time(request, at)))
        for e in reversed(events)
    ]  # fmt: skip
    pending = _my_wrap_up(request, lead.id)
    wrap_up_ends = ""
    if pending is not None:
        wrap_up_ends = pending[1].ends_at.astimezone(_tz(request)).strftime("%H:%M:%S")
        values = {"attempt_id": str(pending[1].attempt.id), **(values or {})}
    user_policy = policy_user(request)
    assert user_policy is not None
    owner = await lead_owner_for(request, lead)
    may_file = can(user_policy, Action.DISPOSITION_RECORD, Resource(agent=owner))
    # The call button (views_calls): for a user with a phone who may call this lead.
    call = None
    if user.agent and can(user_policy, Action.CALL_PLACE, Resource(agent=owner)):
        call = {"phones": [(str(i), mask(p.e164)) for i, p in enumerate(lead.phones)],
                "override": allowed(request, Action.CALL_WINDOW_OVERRIDE)}  # fmt: skip
    return render(
        request, "desk/lead.html", t(request, "web.lead.title", name=lead.name), status=status, lead_id=lead.id,
        facts=facts, history=history, wrap_up_ends=wrap_up_ends, notice=notice, errors=errors or {},
        values=values or {}, opening_script=settings.web.opening_script.format(**script_params),
        closing_script=settings.web.closing_script.format(**script_params),
        form=_disposition_choices(request, lead) if may_file and lead.state.is_open else None,
        reactivate=lead.state is LeadState.DEFEATED and allowed(request, Action.LEAD_REACTIVATE),
        showroom=await _showroom(request, lead), promotions=await running_cards(request), call=call,
        transfer=transfer,
    )  # fmt: skip


async def _showroom(request: web.Request, lead: Lead) -> dict[str, object] | None:
    """The card's visit and deal forms (views_showroom): which the lead's state allows, for a user who may
    record them. The time field left empty means now (the service's clock, to the microsecond): a default
    cut to the minute could put a visit before the invitation made seconds earlier."""
    user = policy_user(request)
    assert user is not None
    if not can(user, Action.MILESTONE_RECORD, Resource(agent=await lead_owner_for(request, lead))):
        return None
    visit, deal = (state in TRANSITIONS[lead.state] for state in (LeadState.VISITED, LeadState.DEAL))
    if not (visit or deal):
        return None
    now = request.app[DIALER].clock.now().astimezone(_tz(request))
    return {"visit": visit, "deal": deal, "now_shown": f"{now:%Y-%m-%d %H:%M}", "model": lead.model or ""}


@routes.route("GET", "/leads/{lead_id:\\d+}", Action.LEAD_VIEW, "The lead card")
async def lead_card(request: web.Request) -> web.StreamResponse:
    """The lead with history, source, intent, deadlines, the scripts and the disposition form."""
    notice = t(request, "web.lead.saved") if request.query.get("saved") else ""
    # Back from the call button (``calling``): the user's phone rings; opened from the desk's card of a
    # campaign call in progress (``call``). Either way the disposition form already names the call.
    calling = parse_int(request.query.get("calling"), "calling")
    if calling is not None:
        notice = t(request, "web.call.ringing")
    else:
        calling = parse_int(request.query.get("call"), "call")
    values = {"attempt_id": str(calling)} if calling is not None else None
    # The call card's hold, transfer and 3-way controls (views_calls: POST /api/calls/{attempt_id}/transfer).
    transfer = None
    if calling is not None and phone_of(request):
        text = {
            key: t(request, f"web.transfer.{key}")
            for key in ("party", "held", "consulting", "handed_over", "lead_handed_over")
        }
        transfer = {"attempt_id": calling, "targets": await transfer_targets(request), "text": text}
    lead = await lead_for(request, Action.LEAD_VIEW)
    return await lead_page(request, lead, notice=notice, values=values, transfer=transfer)


@routes.route("GET", "/api/leads/{lead_id:\\d+}", Action.LEAD_VIEW, "One lead with its history")
async def api_lead(request: web.Request) -> web.StreamResponse:
    """The lead card as JSON."""
    lead = await lead_for(request, Action.LEAD_VIEW)
    return web.json_response(lead_json(lead, await request.app[DIALER].leads.store.events(lead.id)))


async def _unfiled_talk(request: web.Request, lead: Lead) -> int | None:
    """The call a form without a call number is about: this agent's last finished talk with the
    lead whose result nobody filed yet (the form links it; the agent types no call number)."""
    agent = phone_of(request)
    if not agent:
        return None
    app = request.app[DIALER]
    talk = await app.attempts.last_talk(lead.id, agent)
    if talk is None or talk.ended_at is None or await app.doss.filed(talk.id):
        return None
    return talk.id


async def _record(request: web.Request, lead: Lead, data: dict[str, str]) -> Lead:
    """Parse and record a disposition; every refusal is a BadRequest naming its field."""
    parsed = parse_disposition(data, _tz(request))
    actor = console_actor(request)
    app = request.app[DIALER]
    pending = _my_wrap_up(request, lead.id)
    try:
        if pending is not None:
            # The runner files it against the call's own attempt and outcome, and ends the wrap-up.
            runner, wrap = pending
            await runner.submit_disposition(wrap.agent, parsed.form, actor)
            return await app.leads.store.get(lead.id)
        attempt_id = parsed.attempt_id if parsed.attempt_id is not None else await _unfiled_talk(request, lead)
        recorded = await app.doss.record_disposition(lead.id, attempt_id, parsed.outcome, parsed.form, actor)
    except FormError as exc:
        raise BadRequest({exc.field: str(exc).removeprefix(f"{exc.field}: ")}) from None
    except (LeadStateError, CampaignError) as exc:
        raise BadRequest({"disposition": str(exc)}) from None
    return recorded.lead


@routes.route("POST", "/leads/{lead_id:\\d+}/disposition", Action.DISPOSITION_RECORD, "Record the call result (form)")
async def disposition(request: web.Request) -> web.StreamResponse:
    """Record the form; on an error, the same page again with the message next to the field."""
    lead = await lead_for(request, Action.DISPOSITION_RECORD)
    data = {k: str(v) for k, v in (await request.post()).items() if k != "csrf_token"}
    try:
        updated = await _record(request, lead, data)
    except BadRequest as exc:
        fields = exc.fields or {"_": exc.message}
        return await lead_page(request, lead, errors=fields, values=data, status=400)
    raise web.HTTPSeeOther(f"/leads/{updated.id}?saved=1")


@routes.route("POST", "/api/leads/{lead_id:\\d+}/disposition", Action.DISPOSITION_RECORD, "Record the call result",
              body="application/json")  # fmt: skip
async def api_disposition(request: web.Request) -> web.StreamResponse:
    """JSON body with the form's fields; 400 with ``fields`` naming what is wrong."""
    lead = await lead_for(request, Action.DISPOSITION_RECORD)
    body = await json_object(request)
    updated = await _record(request, lead, {k: "" if v is None else str(v) for k, v in body.items()})
    return web.json_response(lead_json(updated))


def lead_manager(request: web.Request) -> LeadManager:
    """The manager's decisions (re-activate, transfer) over this console's dialer."""
    return request.app[DIALER].manager


async def _reactivate(request: web.Request, reason: str) -> Lead:
    lead = await lead_for(request, Action.LEAD_REACTIVATE)
    try:
        done = await lead_manager(request).reactivate(
            [lead.id], console_actor(request), reason, dealers=dealers_of(request)
        )
    except ManageError as exc:
        raise BadRequest({exc.field: exc.reason}) from None
    except LeadStateError as exc:
        raise BadRequest({"state": str(exc)}) from None
    return done[0].lead


@routes.route("POST", "/leads/{lead_id:\\d+}/reactivate", Action.LEAD_REACTIVATE, "Re-activate a defeated lead (form)")
async def reactivate(request: web.Request) -> web.StreamResponse:
    """Bring a defeated lead back; its 2-day hand-over deadline starts again."""
    form = await request.post()
    try:
        lead = await _reactivate(request, str(form.get("reason") or ""))
    except BadRequest as exc:
        return await lead_page(
            request, await lead_for(request, Action.LEAD_VIEW), errors=exc.fields or {"_": exc.message}, status=400
        )
    raise web.HTTPSeeOther(f"/leads/{lead.id}")


@routes.route("POST", "/api/leads/{lead_id:\\d+}/reactivate", Action.LEAD_REACTIVATE, "Re-activate a defeated lead",
              body="application/json")  # fmt: skip
async def api_reactivate(request: web.Request) -> web.StreamResponse:
    """``{"reason"}`` -> the lead after re-activation (its DOSS row queued with it)."""
    body = await json_object(request)
    return web.json_response(lead_json(await _reactivate(request, str(body.get("reason") or ""))))


# -- the agent's phone: presence and the current campaign call ------------------------------------


class PresenceConflict(WebError):
    """The command does not fit the agent's presence now (e.g. resume while not paused)."""

    status = 409


class QueueRefused(WebError):
    """The PBX refused the inbound-queue change; the presence was left as it was."""

    status = 502


async def desk_state(request: web.Request) -> dict[str, Any]:
    """The agent's phone as the desk shows it: state (a campaign call wins over presence), since,
    pause reason, the lead in hand with its card, the wrap-up deadline; ``agent`` None without a phone."""
    agent = phone_of(request)
    if not agent:
        return {"agent": None}
    presence = await request.app[DIALER].presence.get(agent)
    runners = request.app[RUNNERS]
    board = board_state(presence, runners.sessions_of(agent))
    pending = runners.wrap_up_of(agent)
    in_hand = sorted(runners.leads_in_hand(agent))
    call = None
    if in_hand:
        # The live attempt names the call for the card's transfer controls and the disposition form (the
        # lead in hand has one; its agent may not be written yet while the answer is put through).
        live = [a for a in await request.app[DIALER].attempts.in_flight() if a.lead_id == in_hand[0]]
        call = {
            "lead_id": in_hand[0],
            "attempt_id": live[-1].id if live else None,
            **await views_screenpop.lead_card(request, in_hand[0]),
        }
    return {
        "agent": agent, "state": board.state.value, "since": to_db_or_none(board.since), "reason": board.reason,
        "presence": presence.state.value, "explicit": presence.explicit,
        "pause_reasons": list(request.app[DIALER].presence.reasons), "call": call,
        "wrap_up": None if pending is None else {"lead_id": pending[1].lead_id, "campaign_id": pending[1].campaign_id,
                                                 "ends_at": to_db_or_none(pending[1].ends_at)},
    }  # fmt: skip


async def _change(request: web.Request, command: PresenceCommand, reason: str | None = None) -> web.StreamResponse:
    agent = own_phone(request)
    try:
        await request.app[DIALER].presence.change(agent, command, console_actor(request), reason)
    except PresenceRefused as exc:
        if exc.field == "reason":
            raise BadRequest({"reason": str(exc)}) from None
        raise PresenceConflict("presence_refused", str(exc)) from None
    except QueueChangeRefused as exc:
        raise QueueRefused("pbx_refused", str(exc)) from None
    return web.json_response(await desk_state(request))


@routes.route(
    "GET", "/api/desk/state", Action.DESK_VIEW, "My phone: presence or call state, since when, the lead in hand"
)
async def api_desk_state(request: web.Request) -> web.StreamResponse:
    """``agent`` is null for a login without a phone."""
    return web.json_response(await desk_state(request))


@routes.route("POST", "/api/desk/login", Action.DESK_VIEW, "Log my phone in: campaign and inbound calls may come")
async def api_phone_login(request: web.Request) -> web.StreamResponse:
    """409 when already logged in; 502 when the PBX refuses the inbound-queue change."""
    return await _change(request, PresenceCommand.LOGIN)


@routes.route("POST", "/api/desk/logout", Action.DESK_VIEW, "Log my phone out (after the current call and wrap-up)")
async def api_phone_logout(request: web.Request) -> web.StreamResponse:
    """Takes effect in the campaigns once a call in progress and its wrap-up are over."""
    return await _change(request, PresenceCommand.LOGOUT)


@routes.route("POST", "/api/desk/pause", Action.DESK_VIEW, "Pause my phone (JSON body: reason, one of the configured reasons)",
              body="application/json")  # fmt: skip
async def api_phone_pause(request: web.Request) -> web.StreamResponse:
    """400 naming ``reason`` when it is not one of ``campaigns.pause_reasons``."""
    return await _change(request, PresenceCommand.PAUSE, parse_presence_body(await json_object(request)))


@routes.route("POST", "/api/desk/resume", Action.DESK_VIEW, "Resume from a pause: calls may come again")
async def api_phone_resume(request: web.Request) -> web.StreamResponse:
    """409 when not paused."""
    return await _change(request, PresenceCommand.RESUME)


async def _phone(request: web.Request) -> dict[str, object] | None:
    """What templates/desk/_phone.html shows of the agent's phone; None for a login without one."""
    state = await desk_state(request)
    if state["agent"] is None:
        return None
    text = {
        f"state_{s}": t(request, "web.phone.state." + s)
        for s in ("logged_out", "available", "paused", "on_call", "wrap_up")
    }
    text["since"] = t(request, "web.phone.since")
    label = text["state_" + state["state"]] + (f" ({state['reason']})" if state["reason"] else "")
    return {"state": state["state"], "label": label, "pause_reasons": state["pause_reasons"], "text": text}
