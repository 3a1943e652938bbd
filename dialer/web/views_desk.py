"""The agent desk: due list and callbacks, the lead card, the disposition form; re-activation of defeated leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.access.policy import Action, Resource, Role, can
from dialer.doss.errors import FormError
from dialer.doss.mapping import Disposition, FormField
from dialer.leads.errors import LeadNotFound, LeadStateError
from dialer.leads.model import IntentLevel, Lead, LeadState
from dialer.leads.service import DueItem, DueScope
from dialer.phone import mask
from dialer.store.leads import LeadEvent
from dialer.store.timestamps import to_db_or_none
from dialer.web import views_screenpop
from dialer.web.errors import BadRequest, Forbidden, NotFound
from dialer.web.forms import parse_disposition, parse_int
from dialer.web.html import allowed, csrf_field, esc, field_errors, page, policy_user, t, table
from dialer.web.keys import DIALER, MAPPING, SETTINGS, session_of
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_ACTOR_PREFIX = "web:"  # history shows which changes came through the console


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SETTINGS].dealer.timezone)


def _local(request: web.Request, when: datetime | None) -> str:
    return "" if when is None else when.astimezone(_tz(request)).strftime("%Y-%m-%d %H:%M")


async def _lead_for(request: web.Request, action: Action) -> Lead:
    """The lead in the URL, if the user may do ``action`` on it (an agent: only leads they own)."""
    lead_id = parse_int(request.match_info["lead_id"], "lead_id")
    assert lead_id is not None
    try:
        lead = await request.app[DIALER].leads.store.get(lead_id)
    except LeadNotFound:
        raise NotFound("lead_not_found", f"lead {lead_id} does not exist") from None
    user = policy_user(request)
    assert user is not None
    if not can(user, action, Resource(agent=lead.owner)):
        raise Forbidden("not_own_lead", f"lead {lead_id} belongs to another agent")
    return lead


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
            {"id": e.id, "kind": e.kind, "at": to_db_or_none(e.at), "actor": e.actor, "data": dict(e.data)} for e in events
        ]
    return data


def _event_label(request: web.Request, kind: str) -> str:
    """Other packages add event kinds of their own; one without a label shows as its code."""
    key = "web.event." + kind
    label = t(request, key)
    return kind if label == key else label


def _due_rows(request: web.Request, items: list[DueItem]) -> str:
    rows = "".join(
        f'<tr id="due-{item.lead.id}"{" class=overdue" if item.overdue else ""}>'
        f'<td><a href="/leads/{item.lead.id}">{esc(item.lead.name)}</a></td><td>{esc(t(request, "web.source." + item.lead.source.value))}</td>'
        f"<td>{esc(item.lead.intent.value if item.lead.intent else '')}</td><td>{esc(t(request, 'web.due.' + (item.lead.due_kind or 'none')))}</td>"
        f"<td>{esc(_local(request, item.lead.due_at))}</td></tr>"
        for item in items
    )
    heads = "".join(f"<th>{esc(t(request, k))}</th>" for k in ("web.col.name", "web.col.source", "web.col.intent", "web.col.due_kind", "web.col.due_at"))
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"


@routes.route("GET", "/desk", Action.DESK_VIEW, "The agent desk: today's due leads and callbacks")
async def desk(request: web.Request) -> web.StreamResponse:
    """My callbacks and my due leads, overdue first in red."""
    items = await _due_for(request)
    callbacks = [i for i in items if i.lead.due_kind == "callback"]
    others = [i for i in items if i.lead.due_kind != "callback"]
    scopes = " | ".join(f'<a id="scope-{s.value}" href="/desk?scope={s.value}">{esc(t(request, "web.desk.scope." + s.value))}</a>' for s in DueScope)
    body = (
        f"<p>{scopes}</p>"
        f'<section id="callbacks"><h2>{esc(t(request, "web.desk.callbacks"))} ({len(callbacks)})</h2>{_due_rows(request, callbacks)}</section>'
        f'<section id="due"><h2>{esc(t(request, "web.desk.due"))} ({len(others)})</h2>{_due_rows(request, others)}</section>'
    )
    # Imported here: views_preview builds on this module's lead helpers, so at load time the import points one way.
    from dialer.web.views_preview import preview_section

    body = await preview_section(request) + body
    pop_html, pop_script = views_screenpop.panel(request)
    return page(request, t(request, "web.desk.title"), pop_html + body, script=pop_script)


@routes.route("GET", "/api/leads/due", Action.DESK_VIEW, "Due leads (own for agents; ?owner= for supervisors)",
              query=(Param("scope", "overdue, today (default) or all"), Param("owner", "supervisors: one agent's list")))  # fmt: skip
async def api_due(request: web.Request) -> web.StreamResponse:
    """The due list as JSON."""
    items = await _due_for(request)
    return web.json_response({"leads": [{**lead_json(i.lead), "overdue": i.overdue} for i in items]})


def _disposition_form(request: web.Request, lead: Lead, errors: dict[str, str], values: dict[str, str]) -> str:
    mapping = request.app[MAPPING]

    def options(choices: list[tuple[str, str]], selected: str) -> str:
        return "".join(f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(label)}</option>' for v, label in choices)

    dispositions = [(d.value, t(request, f"web.disposition.{d.value}")) for d in Disposition if d is not Disposition.NO_CONTACT]
    reasons = [("", "")] + [(r, r) for r in mapping.defeat_reasons]
    intents = [("", "")] + [(i.value, i.value) for i in IntentLevel]

    def field(name: str, control: str) -> str:
        return f'<label id="field-{name}">{esc(t(request, "web.form." + name))} {control}{field_errors(errors, name)}</label>'

    v = values.get
    general = f'<p class="error" id="form-error">{esc(errors["_"])}</p>' if "_" in errors else ""
    return (
        f'<form method="post" action="/leads/{lead.id}/disposition" id="disposition-form" class="card">{csrf_field(request)}{general}'
        + field("disposition", f'<select id="disposition" name="disposition" required>{options(dispositions, v("disposition", ""))}</select>')
        + field(FormField.VISIT_AT.value, f'<input type="datetime-local" id="visit_at" name="visit_at" value="{esc(v("visit_at", ""))}">')
        + field(FormField.NEXT_FOLLOW_UP_AT.value, f'<input type="datetime-local" id="next_follow_up_at" name="next_follow_up_at" value="{esc(v("next_follow_up_at", ""))}">')
        + field(FormField.DEFEAT_REASON.value, f'<select id="defeat_reason" name="defeat_reason">{options(reasons, v("defeat_reason", ""))}</select>')
        + field(FormField.INTENT.value, f'<select id="intent" name="intent">{options(intents, v("intent", ""))}</select>')
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
        ("web.col.due_at", _local(request, lead.due_at)), ("web.col.callback_at", _local(request, lead.callback_at)),
        ("web.col.visit_at", _local(request, lead.visit_at)), ("web.col.defeat_reason", lead.defeat_reason or ""),
    ]  # fmt: skip
    card = "".join(f'<tr><th>{esc(t(request, k))}</th><td id="lead-{k.split(".")[-1]}">{esc(v)}</td></tr>' for k, v in facts)
    history = table(
        [t(request, k) for k in ("web.col.at", "web.col.event", "web.col.actor", "web.col.detail")],
        [(_local(request, e.at), _event_label(request, e.kind), e.actor,
          ", ".join(f"{k}={v}" for k, v in e.data.items() if v is not None and k != "phones")) for e in reversed(events)],
        "lead-history",
    )  # fmt: skip
    body = (
        (f'<p id="notice" class="card">{esc(notice)}</p>' if notice else "")
        + f'<div class="script" id="opening-script">{esc(settings.web.opening_script.format(**script_params))}</div>'
        + f'<table class="card" id="lead-card">{card}</table>'
    )
    user_policy = policy_user(request)
    assert user_policy is not None
    if can(user_policy, Action.DISPOSITION_RECORD, Resource(agent=lead.owner)) and lead.state.is_open:
        body += _disposition_form(request, lead, errors or {}, values or {})
    if lead.state is LeadState.DEFEATED and allowed(request, Action.LEAD_REACTIVATE):
        body += (f'<form method="post" action="/leads/{lead.id}/reactivate" id="reactivate-form">{csrf_field(request)}'
                 f'<button id="reactivate-submit" type="submit">{esc(t(request, "web.lead.reactivate"))}</button></form>')  # fmt: skip
    body += f'<div class="script" id="closing-script">{esc(settings.web.closing_script.format(**script_params))}</div>'
    body += f'<h2>{esc(t(request, "web.lead.history"))}</h2>{history}'
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
    try:
        recorded = await request.app[DIALER].doss.record_disposition(lead.id, parsed.attempt_id, parsed.outcome, parsed.form, actor)
    except FormError as exc:
        raise BadRequest({exc.field: str(exc).removeprefix(f"{exc.field}: ")}) from None
    except LeadStateError as exc:
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
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest({"body": "not JSON"}) from None
    if not isinstance(body, dict):
        raise BadRequest({"body": "expected a JSON object"})
    updated = await _record(request, lead, {k: "" if v is None else str(v) for k, v in body.items()})
    return web.json_response(lead_json(updated))


async def _reactivate(request: web.Request) -> Lead:
    lead = await _lead_for(request, Action.LEAD_REACTIVATE)
    # change_state treats "already re-activated" as no change; a second click must not pass silently.
    if lead.state is not LeadState.DEFEATED:
        raise BadRequest({"state": f"lead {lead.id} is {lead.state.value}; only a defeated lead can be re-activated"})
    app = request.app[DIALER]
    try:
        return await app.leads.store.change_state(
            lead.id, LeadState.REACTIVATED, app.clock.now(), _ACTOR_PREFIX + session_of(request).user.name, reason="reactivated"
        )
    except LeadStateError as exc:
        raise BadRequest({"state": str(exc)}) from None


@routes.route("POST", "/leads/{lead_id:\\d+}/reactivate", Action.LEAD_REACTIVATE, "Re-activate a defeated lead (form)")
async def reactivate(request: web.Request) -> web.StreamResponse:
    """Bring a defeated lead back; its 2-day hand-over deadline starts again."""
    lead = await _reactivate(request)
    raise web.HTTPSeeOther(f"/leads/{lead.id}")


@routes.route("POST", "/api/leads/{lead_id:\\d+}/reactivate", Action.LEAD_REACTIVATE, "Re-activate a defeated lead")
async def api_reactivate(request: web.Request) -> web.StreamResponse:
    """The lead after re-activation."""
    return web.json_response(lead_json(await _reactivate(request)))
