"""The agent desk: due list and callbacks, the lead card, the disposition form; re-activation of defeated leads.

Also the agent's phone: presence (log in, log out, pause with a reason, resume; see
:mod:`dialer.campaigns.presence`) and the card of the campaign call they are on or owe a
disposition for. A disposition for a lead whose wrap-up the agent owes goes through the
campaign runner (:meth:`~dialer.campaigns.runner.CampaignRunner.submit_disposition`), which
ends the wrap-up and frees the agent for the next call; any other goes to DOSS directly.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.campaigns.presence import PresenceCommand, PresenceRefused, board_state
from dialer.campaigns.runner import CampaignRunner, WrapUp
from dialer.domain.access.policy import Action, Resource, Role, can
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.doss.errors import FormError
from dialer.domain.doss.mapping import Disposition, FormField
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import IntentLevel, Lead, LeadState
from dialer.leads.service import DueItem, DueScope, LeadManager, ManageError
from dialer.phone import mask
from dialer.store.leads import LeadEvent
from dialer.timestamps import to_db_or_none
from dialer.web import views_screenpop
from dialer.web.errors import BadRequest, Forbidden, NotFound, WebError
from dialer.web.forms import json_object, parse_disposition, parse_int, parse_presence_body
from dialer.web.html import allowed, csrf_field, esc, field_errors, page, policy_user, t, table
from dialer.web.keys import CSRF, DIALER, MAPPING, RUNNERS, SETTINGS, session_of
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_ACTOR_PREFIX = "web:"  # history shows which changes came through the console


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SETTINGS].dealer.timezone)


def local_time(request: web.Request, when: datetime | None) -> str:
    return "" if when is None else when.astimezone(_tz(request)).strftime("%Y-%m-%d %H:%M")


async def lead_owner_for(request: web.Request, lead: Lead) -> str | None:
    """Whose the lead counts as for this user's lead routes: the agent's own while they talk with the
    customer and for the wrap-up after (until they file the call's result, at most
    ``campaigns.wrap_up_timeout_s``), campaign or inbound, since a campaign or the inbound queue may put
    anyone's lead through to them; otherwise its owner. The one place this is decided; every lead route asks it."""
    agent = session_of(request).user.agent
    if not agent or lead.owner == agent:
        return lead.owner
    if lead.id in request.app[RUNNERS].leads_in_hand(agent):
        return agent
    app = request.app[DIALER]
    talk = await app.attempts.last_talk(lead.id, agent)
    window = timedelta(seconds=app.settings.campaigns.wrap_up_timeout_s)
    if talk is None:
        return lead.owner
    if talk.ended_at is None or (app.clock.now() - talk.ended_at <= window and not await app.doss.filed(talk.id)):
        return agent
    return lead.owner


async def _lead_for(request: web.Request, action: Action) -> Lead:
    """The lead in the URL, if the user may do ``action`` on it (an agent: leads they own or have in hand)."""
    lead_id = parse_int(request.match_info["lead_id"], "lead_id")
    assert lead_id is not None
    try:
        lead = await request.app[DIALER].leads.store.get(lead_id)
    except LeadNotFound:
        raise NotFound("lead_not_found", f"lead {lead_id} does not exist") from None
    user = policy_user(request)
    assert user is not None
    if not can(user, action, Resource(agent=await lead_owner_for(request, lead))):
        raise Forbidden("not_own_lead", f"lead {lead_id} belongs to another agent")
    return lead


def _my_wrap_up(request: web.Request, lead_id: int) -> tuple[CampaignRunner, WrapUp] | None:
    """The runner waiting for this user's disposition of ``lead_id``, and that wrap-up; None if none."""
    agent = session_of(request).user.agent
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
    return await request.app[DIALER].leads.due(scope, owner=owner)


def lead_json(lead: Lead, events: list[LeadEvent] | None = None) -> dict[str, Any]:
    """A lead for the API: enums as values, times as UTC ISO-8601, full numbers (the caller may see them)."""
    data: dict[str, Any] = {
        "id": lead.id, "name": lead.name, "source": lead.source.value, "state": lead.state.value,
        "intent": None if lead.intent is None else lead.intent.value, "model": lead.model, "owner": lead.owner,
        "phones": [p.e164 for p in lead.phones], "due_at": to_db_or_none(lead.due_at), "due_kind": lead.due_kind,
        "callback_at": to_db_or_none(lead.callback_at), "visit_at": to_db_or_none(lead.visit_at),
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


def _due_rows(request: web.Request, items: list[DueItem]) -> str:
    rows = "".join(
        f'<tr id="due-{item.lead.id}"{" class=overdue" if item.overdue else ""}>'
        f'<td><a href="/leads/{item.lead.id}">{esc(item.lead.name)}</a></td><td>{esc(t(request, "web.source." + item.lead.source.value))}</td>'
        f"<td>{esc(item.lead.intent.value if item.lead.intent else '')}</td><td>{esc(t(request, 'web.due.' + (item.lead.due_kind or 'none')))}</td>"
        f"<td>{esc(local_time(request, item.lead.due_at))}</td></tr>"
        for item in items
    )
    heads = "".join(
        f"<th>{esc(t(request, k))}</th>"
        for k in ("web.col.name", "web.col.source", "web.col.intent", "web.col.due_kind", "web.col.due_at")
    )
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"


@routes.route("GET", "/desk", Action.DESK_VIEW, "The agent desk: today's due leads and callbacks")
async def desk(request: web.Request) -> web.StreamResponse:
    """My callbacks and my due leads, overdue first in red."""
    items = await _due_for(request)
    callbacks = [i for i in items if i.lead.due_kind == "callback"]
    others = [i for i in items if i.lead.due_kind != "callback"]
    scopes = " | ".join(
        f'<a id="scope-{s.value}" href="/desk?scope={s.value}">{esc(t(request, "web.desk.scope." + s.value))}</a>'
        for s in DueScope
    )
    body = (
        f"<p>{scopes}</p>"
        f'<section id="callbacks"><h2>{esc(t(request, "web.desk.callbacks"))} ({len(callbacks)})</h2>{_due_rows(request, callbacks)}</section>'
        f'<section id="due"><h2>{esc(t(request, "web.desk.due"))} ({len(others)})</h2>{_due_rows(request, others)}</section>'
    )
    # Imported here: views_preview builds on this module's lead helpers, so at load time the import points one way.
    from dialer.web.views_preview import preview_section

    body = await preview_section(request) + body
    pop_html, pop_script = views_screenpop.panel(request)
    phone_html, phone_script = await _phone_panel(request)
    return page(request, t(request, "web.desk.title"), phone_html + pop_html + body, script=pop_script + phone_script)


@routes.route("GET", "/api/leads/due", Action.DESK_VIEW, "Due leads (own for agents; ?owner= for supervisors)",
              query=(Param("scope", "overdue, today (default) or all"), Param("owner", "supervisors: one agent's list")))  # fmt: skip
async def api_due(request: web.Request) -> web.StreamResponse:
    """The due list as JSON."""
    items = await _due_for(request)
    return web.json_response({"leads": [{**lead_json(i.lead), "overdue": i.overdue} for i in items]})


def _disposition_form(request: web.Request, lead: Lead, errors: dict[str, str], values: dict[str, str]) -> str:
    mapping = request.app[MAPPING]

    def options(choices: list[tuple[str, str]], selected: str) -> str:
        return "".join(
            f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(label)}</option>'
            for v, label in choices
        )

    dispositions = [
        (d.value, t(request, f"web.disposition.{d.value}")) for d in Disposition if d is not Disposition.NO_CONTACT
    ]
    reasons = [("", "")] + [(r, r) for r in mapping.defeat_reasons]
    intents = [("", "")] + [(i.value, i.value) for i in IntentLevel]

    def field(name: str, control: str) -> str:
        return f'<label id="field-{name}">{esc(t(request, "web.form." + name))} {control}{field_errors(errors, name)}</label>'

    v = values.get
    general = f'<p class="error" id="form-error">{esc(errors["_"])}</p>' if "_" in errors else ""
    return (
        f'<form method="post" action="/leads/{lead.id}/disposition" id="disposition-form" class="card">{csrf_field(request)}{general}'
        + field(
            "disposition",
            f'<select id="disposition" name="disposition" required>{options(dispositions, v("disposition", ""))}</select>',
        )
        + field(
            FormField.VISIT_AT.value,
            f'<input type="datetime-local" id="visit_at" name="visit_at" value="{esc(v("visit_at", ""))}">',
        )
        + field(
            FormField.NEXT_FOLLOW_UP_AT.value,
            f'<input type="datetime-local" id="next_follow_up_at" name="next_follow_up_at" value="{esc(v("next_follow_up_at", ""))}">',
        )
        + field(
            FormField.DEFEAT_REASON.value,
            f'<select id="defeat_reason" name="defeat_reason">{options(reasons, v("defeat_reason", ""))}</select>',
        )
        + field(
            FormField.INTENT.value, f'<select id="intent" name="intent">{options(intents, v("intent", ""))}</select>'
        )
        + field(FormField.MODEL.value, f'<input id="model" name="model" value="{esc(v("model", lead.model or ""))}">')
        + field(FormField.NOTE.value, f'<textarea id="note" name="note">{esc(v("note", ""))}</textarea>')
        + field("attempt_id", f'<input id="attempt_id" name="attempt_id" value="{esc(v("attempt_id", ""))}">')
        + f'<button id="disposition-submit" type="submit">{esc(t(request, "web.form.submit"))}</button></form>'
    )


async def _lead_page(request: web.Request, lead: Lead, *, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None, notice: str = "", status: int = 200) -> web.Response:  # fmt: skip
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
    card = "".join(
        f'<tr><th>{esc(t(request, k))}</th><td id="lead-{k.split(".")[-1]}">{esc(v)}</td></tr>' for k, v in facts
    )
    history = table(
        [t(request, k) for k in ("web.col.at", "web.col.event", "web.col.actor", "web.col.detail")],
        [(local_time(request, e.at), event_label(request, e.kind), e.actor,
          ", ".join(f"{k}={v}" for k, v in e.data.items() if v is not None and k != "phones")) for e in reversed(events)],
        "lead-history",
    )  # fmt: skip
    pending = _my_wrap_up(request, lead.id)
    if pending is not None:
        ends = pending[1].ends_at.astimezone(_tz(request)).strftime("%H:%M:%S")
        values = {"attempt_id": str(pending[1].attempt.id), **(values or {})}
    body = (
        (
            f'<p id="wrap-up" class="card overdue">{esc(t(request, "web.lead.wrap_up_due", time=ends))}</p>'
            if pending
            else ""
        )
        + (f'<p id="notice" class="card"><span id="saved">{esc(notice)}</span></p>' if notice else "")
        + f'<div class="script" id="opening-script">{esc(settings.web.opening_script.format(**script_params))}</div>'
        + f'<table class="card" id="lead-card">{card}</table>'
    )
    user_policy = policy_user(request)
    assert user_policy is not None
    if (
        can(user_policy, Action.DISPOSITION_RECORD, Resource(agent=await lead_owner_for(request, lead)))
        and lead.state.is_open
    ):
        body += _disposition_form(request, lead, errors or {}, values or {})
    if lead.state is LeadState.DEFEATED and allowed(request, Action.LEAD_REACTIVATE):
        body += (f'<form method="post" action="/leads/{lead.id}/reactivate" id="reactivate-form">{csrf_field(request)}'
                 f'<label>{esc(t(request, "web.manage.reason"))} <input name="reason" id="reactivate-reason" required maxlength="200"></label>'
                 f'{field_errors(errors or {}, "reason")}{field_errors(errors or {}, "state")}'
                 f'<button id="reactivate-submit" type="submit">{esc(t(request, "web.lead.reactivate"))}</button></form>')  # fmt: skip
    body += f'<div class="script" id="closing-script">{esc(settings.web.closing_script.format(**script_params))}</div>'
    body += f"<h2>{esc(t(request, 'web.lead.history'))}</h2>{history}"
    return page(request, t(request, "web.lead.title", name=lead.name), body, status=status)


@routes.route("GET", "/leads/{lead_id:\\d+}", Action.LEAD_VIEW, "The lead card")
async def lead_card(request: web.Request) -> web.StreamResponse:
    """The lead with history, source, intent, deadlines, the scripts and the disposition form."""
    notice = t(request, "web.lead.saved") if request.query.get("saved") else ""
    return await _lead_page(request, await _lead_for(request, Action.LEAD_VIEW), notice=notice)


@routes.route("GET", "/api/leads/{lead_id:\\d+}", Action.LEAD_VIEW, "One lead with its history")
async def api_lead(request: web.Request) -> web.StreamResponse:
    """The lead card as JSON."""
    lead = await _lead_for(request, Action.LEAD_VIEW)
    return web.json_response(lead_json(lead, await request.app[DIALER].leads.store.events(lead.id)))


async def _record(request: web.Request, lead: Lead, data: dict[str, str]) -> Lead:
    """Parse and record a disposition; every refusal is a BadRequest naming its field."""
    parsed = parse_disposition(data, _tz(request))
    actor = _ACTOR_PREFIX + session_of(request).user.name
    app = request.app[DIALER]
    pending = _my_wrap_up(request, lead.id)
    try:
        if pending is not None:
            # The runner files it against the call's own attempt and outcome, and ends the wrap-up.
            runner, wrap = pending
            await runner.submit_disposition(wrap.agent, parsed.form, actor)
            return await app.leads.store.get(lead.id)
        recorded = await app.doss.record_disposition(lead.id, parsed.attempt_id, parsed.outcome, parsed.form, actor)
    except FormError as exc:
        raise BadRequest({exc.field: str(exc).removeprefix(f"{exc.field}: ")}) from None
    except (LeadStateError, CampaignError) as exc:
        raise BadRequest({"disposition": str(exc)}) from None
    return recorded.lead


@routes.route("POST", "/leads/{lead_id:\\d+}/disposition", Action.DISPOSITION_RECORD, "Record the call result (form)")
async def disposition(request: web.Request) -> web.StreamResponse:
    """Record the form; on an error, the same page again with the message next to the field."""
    lead = await _lead_for(request, Action.DISPOSITION_RECORD)
    data = {k: str(v) for k, v in (await request.post()).items() if k != "csrf_token"}
    try:
        updated = await _record(request, lead, data)
    except BadRequest as exc:
        fields = exc.fields or {"_": exc.message}
        return await _lead_page(request, lead, errors=fields, values=data, status=400)
    raise web.HTTPSeeOther(f"/leads/{updated.id}?saved=1")


@routes.route("POST", "/api/leads/{lead_id:\\d+}/disposition", Action.DISPOSITION_RECORD, "Record the call result",
              body="application/json")  # fmt: skip
async def api_disposition(request: web.Request) -> web.StreamResponse:
    """JSON body with the form's fields; 400 with ``fields`` naming what is wrong."""
    lead = await _lead_for(request, Action.DISPOSITION_RECORD)
    body = await json_object(request)
    updated = await _record(request, lead, {k: "" if v is None else str(v) for k, v in body.items()})
    return web.json_response(lead_json(updated))


def lead_manager(request: web.Request) -> LeadManager:
    """The manager's decisions (re-activate, transfer) over this console's dialer."""
    app = request.app[DIALER]
    return LeadManager(app.db, app.leads, app.doss, app.clock)


async def _reactivate(request: web.Request, reason: str) -> Lead:
    lead = await _lead_for(request, Action.LEAD_REACTIVATE)
    try:
        done = await lead_manager(request).reactivate([lead.id], _ACTOR_PREFIX + session_of(request).user.name, reason)
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
        return await _lead_page(
            request, await _lead_for(request, Action.LEAD_VIEW), errors=exc.fields or {"_": exc.message}, status=400
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


class PbxRefused(WebError):
    """The PBX refused the inbound-queue change; the presence was left as it was."""

    status = 502


def _agent_of(request: web.Request) -> str:
    """The logged-in user's phone; a login without one (a supervisor) has no presence to change."""
    agent = session_of(request).user.agent
    if not agent:
        raise BadRequest({"agent": "this login has no phone (agent endpoint)"}, code="no_phone")
    return agent


async def desk_state(request: web.Request) -> dict[str, Any]:
    """The agent's phone as the desk shows it: state (a campaign call wins over presence), since,
    pause reason, the lead in hand with its card, the wrap-up deadline; ``agent`` None without a phone."""
    agent = session_of(request).user.agent
    if not agent:
        return {"agent": None}
    presence = await request.app[DIALER].presence.get(agent)
    runners = request.app[RUNNERS]
    board = board_state(presence, runners.sessions_of(agent))
    pending = runners.wrap_up_of(agent)
    in_hand = sorted(runners.leads_in_hand(agent))
    call = None
    if in_hand:
        call = {"lead_id": in_hand[0], **await views_screenpop.lead_card(request, in_hand[0])}
    return {
        "agent": agent, "state": board.state.value, "since": to_db_or_none(board.since), "reason": board.reason,
        "presence": presence.state.value, "explicit": presence.explicit,
        "pause_reasons": list(request.app[DIALER].presence.reasons), "call": call,
        "wrap_up": None if pending is None else {"lead_id": pending[1].lead_id, "campaign_id": pending[1].campaign_id,
                                                 "ends_at": to_db_or_none(pending[1].ends_at)},
    }  # fmt: skip


async def _change(request: web.Request, command: PresenceCommand, reason: str | None = None) -> web.StreamResponse:
    agent = _agent_of(request)
    try:
        await request.app[DIALER].presence.change(agent, command, _ACTOR_PREFIX + session_of(request).user.name, reason)
    except PresenceRefused as exc:
        if exc.field == "reason":
            raise BadRequest({"reason": str(exc)}) from None
        raise PresenceConflict("presence_refused", str(exc)) from None
    except QueueChangeRefused as exc:
        raise PbxRefused("pbx_refused", str(exc)) from None
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


_PHONE_SCRIPT = """
(() => {
  const panel = document.getElementById("phone"); if (!panel) return;
  const el = id => document.getElementById(id);
  const text = JSON.parse(panel.dataset.text);
  function render(s) {
    if (!s.agent) return;
    const st = el("phone-state");
    st.dataset.state = s.state;
    st.textContent = text["state_" + s.state] + (s.reason ? " (" + s.reason + ")" : "");
    el("phone-since").textContent = s.since ? text.since + " " + new Date(s.since).toLocaleTimeString() : "";
    el("phone-login-submit").hidden = !(s.presence === "logged_out" || (s.presence === "available" && !s.explicit));
    el("phone-logout-submit").hidden = s.presence === "logged_out";
    el("pause-reason").hidden = el("pause-submit").hidden = s.presence === "logged_out";
    el("resume-submit").hidden = s.presence !== "paused";
    const pop = el("call-pop"), c = s.call;
    pop.hidden = !c;
    if (c) {
      pop.dataset.leadId = c.lead_id;
      el("call-name").textContent = c.name || "-"; el("call-number").textContent = c.number || "-";
      el("call-source").textContent = c.source || "-"; el("call-intent").textContent = c.intent || "-";
      el("call-pop-link").href = "/leads/" + c.lead_id;
    }
    el("call-wrap-up").hidden = !s.wrap_up;
    if (s.wrap_up) el("call-wrap-up-ends").textContent = new Date(s.wrap_up.ends_at).toLocaleTimeString();
  }
  const refresh = () => fetch("/api/desk/state", {credentials: "same-origin"}).then(r => r.json()).then(render);
  async function send(path, body) {
    const resp = await fetch(path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": panel.dataset.csrf}, body: JSON.stringify(body || {})});
    const data = await resp.json();
    el("phone-error").textContent = resp.ok ? "" : (data.message || data.error);
    if (resp.ok) render(data);
  }
  el("phone-login-submit").onclick = () => send("/api/desk/login");
  el("phone-logout-submit").onclick = () => send("/api/desk/logout");
  el("pause-submit").onclick = () => send("/api/desk/pause", {reason: el("pause-reason").value});
  el("resume-submit").onclick = () => send("/api/desk/resume");
  async function refreshPreview() {
    const html = await (await fetch("/desk", {credentials: "same-origin"})).text();
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("preview");
    if (fresh) el("preview").replaceWith(fresh);
  }
  document.addEventListener("desk", e => {
    if (e.detail.type === "preview") refreshPreview(); else if (e.detail.type !== "pop" && e.detail.type !== "ended") refresh();
  });
  refresh();
})();
"""


async def _phone_panel(request: web.Request) -> tuple[str, str]:
    """The desk's phone controls and call card (nothing for a login without a phone) and their script."""
    state = await desk_state(request)
    if state["agent"] is None:
        return "", ""
    text = {
        f"state_{s}": t(request, "web.phone.state." + s)
        for s in ("logged_out", "available", "paused", "on_call", "wrap_up")
    }
    text["since"] = t(request, "web.phone.since")
    label = text["state_" + state["state"]] + (f" ({state['reason']})" if state["reason"] else "")
    reasons = "".join(f'<option value="{esc(r)}">{esc(r)}</option>' for r in state["pause_reasons"])

    def button(element_id: str, key: str) -> str:
        return f'<button type="button" id="{element_id}" hidden>{esc(t(request, key))}</button>'

    rows = "".join(f'<tr><th>{esc(t(request, key))}</th><td id="{fid}">-</td></tr>'
                   for fid, key in (("call-name", "web.col.name"), ("call-number", "web.col.phone"),
                                    ("call-source", "web.col.source"), ("call-intent", "web.col.intent")))  # fmt: skip
    html = (
        f'<section id="phone" class="card" data-csrf="{esc(request.get(CSRF, ""))}" data-text="{esc(json.dumps(text, ensure_ascii=False))}">'
        f'<b>{esc(t(request, "web.phone.title"))}</b> <span id="phone-state" data-state="{esc(state["state"])}">{esc(label)}</span>'
        f' <span id="phone-since"></span> '
        + button("phone-login-submit", "web.phone.login")
        + button("phone-logout-submit", "web.phone.logout")
        + f'<label class="inline">{esc(t(request, "web.phone.reason"))} <select id="pause-reason" hidden>{reasons}</select></label>'
        + button("pause-submit", "web.phone.pause")
        + button("resume-submit", "web.phone.resume")
        + '<span id="phone-error" class="error"></span></section>'
        f'<section id="call-pop" class="card" data-lead-id="" hidden><h2>{esc(t(request, "web.call.title"))}</h2>'
        f'<table id="call-card">{rows}</table>'
        f'<p id="call-wrap-up" class="overdue" hidden>{esc(t(request, "web.call.wrap_up_due"))} <span id="call-wrap-up-ends"></span></p>'
        f'<a id="call-pop-link" class="button" href="#">{esc(t(request, "web.call.open_lead"))}</a></section>'
    )
    return html, _PHONE_SCRIPT
