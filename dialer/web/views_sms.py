"""SMS from the console (#15 item 4): one message to a lead's customer, and the sales manager's waves.

Every rule is the SMS service's (:class:`dialer.sms.service.SmsService`), the same code
``dialer sms send`` and ``dialer sms wave`` run: the suppression list, consent where ``[privacy]``
requires it, the promotional caps, the sending window (a message typed at 22:00 waits for the
morning). This module only reads the form, asks the service, and shows its answer: a preview is
:meth:`~dialer.sms.service.SmsService.draft_for_lead` (every check, nothing written), a send
:meth:`~dialer.sms.service.SmsService.send_to_lead` (the outbox row and the lead's history). A wave's
live count is :meth:`~dialer.sms.service.SmsService.preview_wave`, its start ``start_wave``.

Who: the lead's owner agent (the lead card's rule, :func:`~dialer.web.views_desk.lead_owner_for`),
the supervisor and the sales manager send to one lead; waves are the sales manager's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Action
from dialer.domain.sms.errors import MessageRefused, SmsConfigError
from dialer.phone import mask
from dialer.sms.service import Draft, SmsService, WavePreview, WaveSelection
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound, WebError
from dialer.web.forms import json_object, parse_int
from dialer.web.html import render, t
from dialer.web.keys import DIALER, console_actor
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import lead_for, local_time  # the lead card's access rule and its times

routes = RouteTable()
_T = TypeVar("_T")

# A template's name is a TOML key of config/sms_templates.toml: anything longer is not one.
TEMPLATE_MAX = 64
# A wave's free-text fields (its name, the model it promotes, a current model to match).
TEXT_MAX = 100
MODELS_MAX = 20
AGE_MAX = 100.0
LIMIT_MAX = 100_000
# Refused customers named on the wave page; the count covers them all.
REFUSED_SHOWN = 200


class SmsRefused(WebError):
    """The service's rules refuse this message (suppressed, no consent, over the caps, no mobile)."""

    status = 422


def _sms(request: web.Request) -> SmsService:
    return request.app[DIALER].sms


def _template(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest({"template": "required: the name of an SMS template"})
    if len(value) > TEMPLATE_MAX:
        raise BadRequest({"template": f"{len(value)} characters, at most {TEMPLATE_MAX}"})
    return value.strip()


async def _ask(call: Awaitable[_T]) -> _T:
    """Run a service call; its refusals become the web's (400 naming ``template``, 422 with the reason)."""
    try:
        return await call
    except SmsConfigError as exc:
        raise BadRequest({"template": str(exc)}) from None
    except MessageRefused as exc:
        raise SmsRefused("sms_refused", str(exc)) from None


def _draft_json(request: web.Request, draft: Draft) -> dict[str, Any]:
    return {
        "to": mask(draft.to_e164), "text": draft.body, "parts": draft.parts, "promotional": draft.promotional,
        "template": draft.template, "not_before": draft.not_before.isoformat(),
        "not_before_local": local_time(request, draft.not_before),
    }  # fmt: skip


# -- one lead -------------------------------------------------------------------------------------------


@routes.route("GET", "/api/leads/{lead_id:\\d+}/sms/preview", Action.SMS_SEND,
              "The SMS a template would be for this lead, after every rule; nothing is sent",
              query=(Param("template", "the template's name", required=True),))  # fmt: skip
async def api_sms_preview(request: web.Request) -> web.StreamResponse:
    """200 with the text, parts and when it may go out; 422 ``sms_refused`` naming why it may not go;
    400 naming ``template`` for an unknown template or one the lead lacks a value for."""
    lead = await lead_for(request, Action.SMS_SEND)
    draft = await _ask(_sms(request).draft_for_lead(lead.id, _template(request.query.get("template"))))
    return web.json_response(_draft_json(request, draft))


@routes.route("POST", "/api/leads/{lead_id:\\d+}/sms", Action.SMS_SEND, "Send this lead's customer an SMS from a template",
              body="application/json", fields=(Param("template", "the template's name", required=True),))  # fmt: skip
async def api_sms_send(request: web.Request) -> web.StreamResponse:
    """201 with the outbox message (id, parts, when it may go out); it is in the lead's history. 422 and 400
    as the preview."""
    lead = await lead_for(request, Action.SMS_SEND)
    template = _template((await json_object(request)).get("template"))
    queued = await _ask(_sms(request).send_to_lead(lead.id, template, console_actor(request)))
    return web.json_response(
        {"message_id": queued.message_id, "parts": queued.parts, "not_before": queued.not_before.isoformat()},
        status=201,
    )


@routes.route(
    "GET", "/leads/{lead_id:\\d+}/sms", Action.SMS_SEND, "Choose an SMS template for this lead and preview it"
)
async def sms_page(request: web.Request) -> web.StreamResponse:
    """The templates; with ``?template=`` the text the customer would read, or why it may not go."""
    lead = await lead_for(request, Action.SMS_SEND)
    chosen = request.query.get("template", "")
    draft, errors = None, {}
    if chosen:
        try:
            draft = await _ask(_sms(request).draft_for_lead(lead.id, _template(chosen)))
        except BadRequest as exc:
            errors = exc.fields
        except SmsRefused as exc:
            errors = {"refused": exc.message}
    sent = parse_int(request.query.get("sent"), "sent")
    return _lead_sms_page(
        request, lead.id, lead.name, chosen, draft, errors, sent, status=400 if "template" in errors else 200
    )


@routes.route("POST", "/leads/{lead_id:\\d+}/sms", Action.SMS_SEND, "Send this lead's customer an SMS (form)")
async def sms_send(request: web.Request) -> web.StreamResponse:
    """Field ``template``; sent: back to the page with the message named; refused: the page says why."""
    lead = await lead_for(request, Action.SMS_SEND)
    posted = await request.post()
    chosen = str(posted.get("template") or "")
    try:
        queued = await _ask(_sms(request).send_to_lead(lead.id, _template(chosen), console_actor(request)))
    except BadRequest as exc:
        return _lead_sms_page(request, lead.id, lead.name, chosen[:TEMPLATE_MAX], None, exc.fields, None, status=400)
    except SmsRefused as exc:
        return _lead_sms_page(request, lead.id, lead.name, chosen, None, {"refused": exc.message}, None, status=422)
    raise web.HTTPSeeOther(f"/leads/{lead.id}/sms?sent={queued.message_id}")


def _lead_sms_page(request: web.Request, lead_id: int, name: str, chosen: str, draft: Draft | None,
                   errors: Mapping[str, str], sent: int | None, *, status: int) -> web.Response:  # fmt: skip
    templates = [(tpl.name, tpl.name) for tpl in _sms(request).customer_templates()]
    return render(
        request, "sms/lead.html", t(request, "web.sms.lead_title", name=name), status=status, lead_id=lead_id,
        templates=templates, chosen=chosen, draft=None if draft is None else _draft_json(request, draft),
        errors=dict(errors), sent=sent,
    )  # fmt: skip


# -- waves ----------------------------------------------------------------------------------------------


_WAVE_FIELDS = (
    Param("template", "the template's name (default repurchase)"),
    Param("model", "the model the wave promotes", required=True),
    Param("current", "only owners of these car models (comma-separated; empty: any)"),
    Param("min_age", "minimum car age in years", "number"),
    Param("max_age", "maximum car age in years", "number"),
    Param("limit", f"at most this many customers (1-{LIMIT_MAX})", "integer"),
)


def parse_wave(data: Mapping[str, Any]) -> tuple[str, WaveSelection]:
    """The template and the selection from a form, a query or JSON; :class:`BadRequest` names each bad field."""
    errors: dict[str, str] = {}

    def text(name: str, default: str = "") -> str:
        value = data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, str):
            errors[name] = "expected text"
            return default
        if len(value) > TEXT_MAX:
            errors[name] = f"{len(value)} characters, at most {TEXT_MAX}"
            return default
        return value.strip()

    def number(name: str) -> float | None:
        raw = data.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            errors[name] = f"{str(raw)[:20]!r} is not a number"
            return None
        if not 0 <= value <= AGE_MAX:
            errors[name] = f"between 0 and {AGE_MAX:g} years"
            return None
        return value

    template = text("template", "repurchase") or "repurchase"
    model = text("model")
    if not model:
        errors["model"] = "required: the model the wave promotes"
    current = tuple(dict.fromkeys(m.strip() for m in text("current").replace("，", ",").split(",") if m.strip()))
    if len(current) > MODELS_MAX:
        errors["current"] = f"at most {MODELS_MAX} models"
    low, high = number("min_age"), number("max_age")
    if low is not None and high is not None and low > high:
        errors["max_age"] = "smaller than the minimum age"
    limit: int | None = None
    raw_limit = data.get("limit")
    if raw_limit not in (None, ""):
        try:
            limit = parse_int(str(raw_limit), "limit", maximum=LIMIT_MAX)
        except BadRequest as exc:
            errors.update(exc.fields)
        if limit is not None and limit < 1:
            errors["limit"] = f"{limit} is not between 1 and {LIMIT_MAX}"
    if len(template) > TEMPLATE_MAX:
        errors["template"] = f"{len(template)} characters, at most {TEMPLATE_MAX}"
    if errors:
        raise BadRequest(errors)
    return template, WaveSelection(model, current, low, high, limit)


def _preview_json(preview: WavePreview) -> dict[str, Any]:
    return {
        "selected": preview.selected,
        "recipients": preview.recipients,
        "refused": [
            {"lead_id": c.lead_id, "name": c.name, "mobile": mask(c.mobile), "reason": reason}
            for c, reason in preview.refused[:REFUSED_SHOWN]
        ],
        "refused_count": len(preview.refused),
    }


def _node_waves(request: web.Request) -> SmsService:
    """The SMS service, for a wave: a wave goes to this node's dealer's base customers through its SMS
    account, so another dealer's people find no waves here (as if there were none)."""
    if not dealers_of(request).allows(request.app[DIALER].dealer.id):
        raise NotFound("sms_waves_not_found", "this node's SMS waves are another dealer's")
    return _sms(request)


async def _wave_rows(request: web.Request) -> list[dict[str, Any]]:
    """Every wave, newest first, with its messages' progress and replies (``dialer sms status``'s figures)."""
    sms = _node_waves(request)
    rows = []
    for wave in await sms.store.waves(dealers=DealerScope.of(request.app[DIALER].dealer.id)):
        counts = await sms.store.status_counts(wave.id)
        replies = await sms.store.wave_replies(wave.id)
        rows.append({
            "id": wave.id, "name": wave.name, "template": wave.template, "phase": wave.phase,
            "created_at": wave.created_at.isoformat(), "decide_at": _iso(wave.decide_at),
            "sent": counts.get("sent", 0) + counts.get("delivered", 0), "delivered": counts.get("delivered", 0),
            "waiting": counts.get("queued", 0) + counts.get("sending", 0),
            "failed": counts.get("failed", 0) + counts.get("dead", 0), "replied": len({lead for lead, _, _ in replies}),
            "reply_rate": wave.reply_rate,
        })  # fmt: skip
    return rows


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


@routes.route("GET", "/api/sms/waves/preview", Action.SMS_WAVE,
              "Who a wave would go to now: the count, and each customer the rules refuse with why",
              query=_WAVE_FIELDS)  # fmt: skip
async def api_wave_preview(request: web.Request) -> web.StreamResponse:
    """The live count of the wave form; nothing is written."""
    template, selection = parse_wave(request.query)
    return web.json_response(_preview_json(await _ask(_node_waves(request).preview_wave(template, selection))))


@routes.route("GET", "/api/sms/waves", Action.SMS_WAVE, "The SMS waves with their progress (sent, failed, replied)")
async def api_waves(request: web.Request) -> web.StreamResponse:
    """Newest first."""
    return web.json_response({"waves": await _wave_rows(request)})


@routes.route("POST", "/api/sms/waves", Action.SMS_WAVE, "Start an SMS wave (the same as dialer sms wave)",
              body="application/json", fields=(*_WAVE_FIELDS, Param("name", "the wave's name")))  # fmt: skip
async def api_wave_start(request: web.Request) -> web.StreamResponse:
    """201 with the wave's report: selected, queued, parts, and the refusals counted by reason."""
    body = await json_object(request)
    return web.json_response(await _start(request, body), status=201)


async def _start(request: web.Request, data: Mapping[str, Any]) -> dict[str, Any]:
    template, selection = parse_wave(data)
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > TEXT_MAX):
        raise BadRequest({"name": f"text of at most {TEXT_MAX} characters"})
    sms = _node_waves(request)
    label = (name or "").strip() or f"{template} {local_time(request, request.app[DIALER].clock.now())}"
    report = await _ask(sms.start_wave(label, template, selection, actor=console_actor(request)))
    return {"wave_id": report.wave_id, "selected": report.selected, "queued": report.queued, "parts": report.parts,
            "refused": dict(report.refused)}  # fmt: skip


@routes.route("GET", "/sms/waves", Action.SMS_WAVE, "The sales manager's SMS waves: the form and the waves' progress",
              query=_WAVE_FIELDS)  # fmt: skip
async def waves_page(request: web.Request) -> web.StreamResponse:
    """With the form's fields in the query: who the wave would reach, to confirm before it starts."""
    preview, errors = None, {}
    typed = {k: v for k, v in request.query.items() if k in {p.name for p in _WAVE_FIELDS} | {"name"}}
    if request.query.get("model"):
        try:
            template, selection = parse_wave(request.query)
            preview = _preview_json(await _ask(_node_waves(request).preview_wave(template, selection)))
        except BadRequest as exc:
            errors = exc.fields
    started = parse_int(request.query.get("started"), "started")
    return await _waves_page(request, typed, preview, errors, started, status=400 if errors else 200)


@routes.route("POST", "/sms/waves", Action.SMS_WAVE, "Start an SMS wave (form)")
async def waves_start(request: web.Request) -> web.StreamResponse:
    """The form's fields after the preview; started: back to the page with the wave named."""
    posted = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        report = await _start(request, posted)
    except BadRequest as exc:
        typed = {k: v[:TEXT_MAX] for k, v in posted.items() if k != "csrf_token"}
        return await _waves_page(request, typed, None, exc.fields, None, status=400)
    raise web.HTTPSeeOther(f"/sms/waves?started={report['wave_id']}")


async def _waves_page(request: web.Request, typed: Mapping[str, str], preview: dict[str, Any] | None,
                      errors: Mapping[str, str], started: int | None, *, status: int) -> web.Response:  # fmt: skip
    templates = [(tpl.name, tpl.name) for tpl in _sms(request).customer_templates()]
    waves = await _wave_rows(request)
    table = [
        (w["id"], w["name"], w["template"], t(request, f"sms.phase.{w['phase']}"), w["sent"], w["waiting"], w["failed"],
         w["replied"], "" if w["reply_rate"] is None else f"{w['reply_rate']:.1%}")
        for w in waves
    ]  # fmt: skip
    headers = [t(request, f"web.sms.wave.col.{k}") for k in
               ("id", "name", "template", "phase", "sent", "waiting", "failed", "replied", "rate")]  # fmt: skip
    return render(
        request, "sms/waves.html", t(request, "web.sms.waves_title"), status=status, templates=templates,
        typed=dict(typed), preview=preview, errors=dict(errors), started=started, headers=headers, rows=table,
        refused_rows=[(r["name"], r["mobile"], r["reason"]) for r in (preview or {}).get("refused", [])],
    )  # fmt: skip
