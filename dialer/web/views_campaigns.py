"""Campaigns from the console: the list with each one's funnel, a create form, start / pause / resume / stop.

A campaign made here is the table a campaign file holds (docs/campaigns.md), validated by
:mod:`dialer.domain.campaigns.definition` and nothing else: the form's fields are named after the
file's keys (``name``, ``filter.sources``, ``retry.busy``), so each problem the definition names is
shown next to its own field. The JSON API takes the same table as a JSON object. Every change goes
through :class:`~dialer.campaigns.service.CampaignService`, as ``dialer campaign`` does; in the one
service (``dialer web``) the campaign watcher then starts the runner of a started campaign, which
dials through this process's PBX link (dialer/server.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict, MultiMapping

from dialer.campaigns.service import CampaignService, StatusReport, record_json, status_json
from dialer.domain.access.policy import Action
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import (
    OPEN_STATES,
    CampaignKind,
    DefinitionError,
    definition_problems,
    parse_definition,
)
from dialer.domain.campaigns.lifecycle import PERSON_COMMANDS, Command, IllegalCampaignTransition, commands_for
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.progress import CampaignNotFound
from dialer.domain.leads.model import IntentLevel, LeadSource
from dialer.settings import RetryDefaults, Settings, WindowDefaults
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.forms import json_object
from dialer.web.html import allowed, render, t
from dialer.web.keys import DIALER, SETTINGS, console_actor
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import local_time

routes = RouteTable()

_COMMANDS = "|".join(c.value for c in PERSON_COMMANDS)
# Filter keys that are lists the form offers as checkboxes, and as comma-separated text.
_FILTER_CHOICES = ("sources", "states", "intents", "owners")
_FILTER_TEXTS = ("models",)
_FILTER_NUMBERS = ("car_age_min_years", "car_age_max_years", "not_contacted_days")
# The campaign's own numbers; empty: the settings' default (the form shows it as the placeholder).
_NUMBERS = ("lines", "deadline_urgent_s", "wrap_up_timeout_s")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


# -- the form -> a campaign table (what a campaign file would hold) -------------------------------


def _number(text: str) -> int | float | str:
    """A number as a TOML file writes it (``4``, ``2.5``); anything else stays text for the definition to refuse."""
    if not _NUMBER.fullmatch(text):
        return text
    value = float(text)
    return int(value) if "." not in text else value


def _items(text: str) -> list[str]:
    """Comma-separated text (``2027-01-01, 2027-02-06``) as a list; empty parts dropped."""
    return [part.strip() for part in re.split(r"[,，]", text) if part.strip()]


def _overrides(form: MultiMapping[str], section: str, defaults: WindowDefaults | RetryDefaults) -> dict[str, Any]:
    """The section's fields that differ from the settings' defaults (the form shows the defaults filled in)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(defaults):
        raw = form.get(f"{section}.{f.name}")
        if raw is None:
            continue
        default = getattr(defaults, f.name)
        text = raw.strip()
        value: Any = _items(text) if isinstance(default, tuple) else text if isinstance(default, str) else _number(text)
        if value != (list(default) if isinstance(default, tuple) else default):
            changes[f.name] = value
    return changes


def campaign_table(form: MultiMapping[str], settings: Settings) -> dict[str, Any]:
    """The campaign file's table the form describes; an empty field leaves its key out (its default applies).

    Only types are read here (numbers, lists); whether the values make a campaign is the definition's call.
    """
    table: dict[str, Any] = {}
    for key in ("name", "kind", "mode", "caller_id"):
        if text := form.get(key, "").strip():
            table[key] = text
    for key in _NUMBERS:
        if text := form.get(key, "").strip():
            table[key] = _number(text)
    if agents := form.getall("agents", []):
        table["agents"] = list(agents)
    lead_filter: dict[str, Any] = {}
    for key in _FILTER_CHOICES:
        if values := form.getall(f"filter.{key}", []):
            lead_filter[key] = list(values)
    for key in _FILTER_TEXTS:
        if values := _items(form.get(f"filter.{key}", "")):
            lead_filter[key] = values
    for key in _FILTER_NUMBERS:
        if text := form.get(f"filter.{key}", "").strip():
            lead_filter[key] = _number(text)
    if lead_filter:
        table["filter"] = lead_filter
    for section, defaults in (("windows", settings.campaigns.windows), ("retry", settings.campaigns.retry)):
        if changes := _overrides(form, section, defaults):
            table[section] = changes
    return table


# -- the work: one place for the page and the API ---------------------------------------------


def _service(request: web.Request) -> CampaignService:
    return request.app[DIALER].campaigns


def _actor(request: web.Request) -> str:
    return console_actor(request)


async def _create(request: web.Request, table: Mapping[str, Any]) -> int:
    """Store the table as a draft; :class:`BadRequest` names every field the definition refuses."""
    problems = definition_problems(table, "console", request.app[SETTINGS])
    if problems:
        raise BadRequest(problems)
    # The person's dealer's, or the one a group-wide person chose (else this node's).
    record = await _service(request).create_from_table(table, _actor(request), dealers_of(request).dealer_id)
    return record.id


async def _command(request: web.Request) -> tuple[dict[str, Any], int]:
    """Apply the URL's command to the URL's campaign, as ``dialer campaign <command> ID`` does."""
    campaign_id = int(request.match_info["campaign_id"])
    command = Command(request.match_info["command"])
    try:
        record, enrolled = await _service(request).command(campaign_id, command, _actor(request), dealers_of(request))
    except CampaignNotFound as exc:
        raise NotFound("not_found", str(exc)) from None
    except IllegalCampaignTransition as exc:
        raise BadRequest({"command": str(exc)}) from None
    return record_json(record), enrolled


async def _count(request: web.Request, form: MultiMapping[str]) -> int:
    """Leads the form's kind and filter select now; :class:`BadRequest` names the refused field.

    The definition reads them, as part of a campaign that says nothing else (the rest is the settings')."""
    table = campaign_table(form, request.app[SETTINGS])
    asked: dict[str, Any] = {"name": "count", **{k: table[k] for k in ("kind", "filter") if k in table}}
    try:
        definition = parse_definition(asked, "console", request.app[SETTINGS])
    except DefinitionError as exc:
        raise BadRequest({exc.field: exc.reason}) from None
    return await _service(request).matching(definition.lead_filter, dealers_of(request).dealer_id)


async def _reports(request: web.Request) -> list[StatusReport]:
    service = _service(request)
    return [await service.status(record.id) for record in await service.all(dealers_of(request))]


# -- the API ----------------------------------------------------------------------------------

_COUNT_PARAMS = (
    Param("kind", f"campaign kind ({', '.join(k.value for k in CampaignKind)})", required=True),
    Param("filter.sources", "lead source; repeat for several (default: the kind's)"),
    Param("filter.states", "open lead state; repeat for several (default: every open state)"),
    Param("filter.intents", "intent level H, A, B or C; repeat for several"),
    Param("filter.owners", "owning agent; repeat for several"),
    Param("filter.models", "car models, comma-separated"),
    Param("filter.car_age_min_years", "base customers' car at least this old", "number"),
    Param("filter.car_age_max_years", "base customers' car at most this old", "number"),
    Param("filter.not_contacted_days", "nobody reached the customer in this many days", "number"),
)
_TABLE_FIELDS = (
    Param("name", "the campaign's name", required=True),
    Param("kind", f"{', '.join(k.value for k in CampaignKind)}", required=True),
    Param("mode", f"{', '.join(m.value for m in PacingMode)} (default: campaigns.pacing.mode)"),
    Param("agents", "agent endpoints", "array"),
    Param("lines", "outbound lines, at most pbx.outbound_lines", "integer"),
    Param("caller_id", "the number customers see"),
    Param("filter", "which leads: sources, states, intents, models, owners, car ages, not_contacted_days", "object"),
    Param("windows", "calling windows: mon..sun spans, holidays, workdays, last_call_margin_s", "object"),
    Param("retry", "retry rule per outcome, max_attempts, max_attempts_per_day", "object"),
    Param("deadline_urgent_s", "leads this close to their deadline go first", "number"),
    Param("wrap_up_timeout_s", "wrap-up ends after this long without a disposition", "number"),
)


@routes.route("GET", "/api/campaigns", Action.CAMPAIGN_VIEW, "Every campaign with its status and progress (funnel)")
async def api_campaigns(request: web.Request) -> web.StreamResponse:
    """What ``dialer campaign status --json`` says, for every campaign, newest first."""
    return web.json_response({"campaigns": [status_json(report) for report in await _reports(request)]})


@routes.route(
    "GET", "/api/campaigns/count", Action.CAMPAIGN_VIEW, "How many leads a campaign filter selects now",
    query=_COUNT_PARAMS,
)  # fmt: skip
async def api_campaign_count(request: web.Request) -> web.StreamResponse:
    """``{"count": n}``: the leads a start would enrol now (the create form's live count)."""
    return web.json_response({"count": await _count(request, request.query)})


@routes.route(
    "POST", "/api/campaigns", Action.CAMPAIGN_MANAGE, "Create a draft campaign from a campaign file's table",
    body="application/json", fields=_TABLE_FIELDS,
)  # fmt: skip
async def api_campaign_create(request: web.Request) -> web.StreamResponse:
    """The JSON object a campaign file would hold -> the draft campaign; 400 names every refused field."""
    campaign_id = await _create(request, await json_object(request))
    return web.json_response(status_json(await _service(request).status(campaign_id)), status=201)


@routes.route(
    "POST", f"/api/campaigns/{{campaign_id:\\d+}}/{{command:{_COMMANDS}}}", Action.CAMPAIGN_MANAGE,
    "Start, pause, resume or stop a campaign (never cuts a live call)",
)  # fmt: skip
async def api_campaign_command(request: web.Request) -> web.StreamResponse:
    """The campaign after the command, and how many leads a start or resume enrolled."""
    record, enrolled = await _command(request)
    return web.json_response({**record, "enrolled": enrolled})


# -- the pages --------------------------------------------------------------------------------


@routes.route("GET", "/campaigns", Action.CAMPAIGN_VIEW, "Campaigns: status, funnel, start / pause / resume / stop")
async def campaigns(request: web.Request) -> web.StreamResponse:
    """The list; ``done``/``id``/``enrolled`` or ``created`` in the query report the last action."""
    return await _list_page(request)


async def _list_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    query = request.query
    notice = ""
    if query.get("created", "").isdigit():
        notice = t(request, "web.campaigns.created", id=query["created"])
    elif query.get("done") in {c.value for c in PERSON_COMMANDS} and query.get("id", "").isdigit():
        notice = t(request, f"web.campaigns.done.{query['done']}", id=query["id"],
                   enrolled=query.get("enrolled", "0") if query.get("enrolled", "").isdigit() else "0")  # fmt: skip
    reports = await _reports(request)
    return render(
        request, "campaigns.html", t(request, "web.campaigns.title"), status=status, reports=reports,
        notice=notice, error=error, may_manage=allowed(request, Action.CAMPAIGN_MANAGE), commands_for=commands_for,
        when=lambda at: local_time(request, at), rate=lambda r: f"{r:.1f}",
    )  # fmt: skip


@routes.route(
    "POST", f"/campaigns/{{campaign_id:\\d+}}/{{command:{_COMMANDS}}}", Action.CAMPAIGN_MANAGE,
    "Start, pause, resume or stop a campaign (form)",
)  # fmt: skip
async def campaign_command(request: web.Request) -> web.StreamResponse:
    """Apply the button's command, then back to the list saying what happened (or why not)."""
    try:
        record, enrolled = await _command(request)
    except BadRequest as exc:
        return await _list_page(request, error="; ".join(exc.fields.values()), status=400)
    done = {"done": request.match_info["command"], "id": record["id"], "enrolled": enrolled}
    raise web.HTTPSeeOther("/campaigns?" + urlencode(done))


async def _form_page(
    request: web.Request, form: MultiMapping[str] | None, errors: Mapping[str, str], status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS]
    agents = await request.app[DIALER].leads.agents(dealers_of(request))
    defaults: dict[str, str] = {"mode": settings.campaigns.pacing.mode, "kind": CampaignKind.HQ.value}
    for section, values in (("windows", settings.campaigns.windows), ("retry", settings.campaigns.retry)):
        for f in dataclasses.fields(values):
            default = getattr(values, f.name)
            defaults[f"{section}.{f.name}"] = ", ".join(default) if isinstance(default, tuple) else str(default)
    outcomes = {o.value for o in Outcome}
    sections = {
        section: [
            (f"{section}.{f.name}", t(request, "web.campaigns.retry_after", outcome=t(request, f"outcome.{f.name}"))
             if section == "retry" and f.name in outcomes else t(request, f"web.campaigns.key.{section}.{f.name}"))
            for f in dataclasses.fields(values)
        ]
        for section, values in (("windows", settings.campaigns.windows), ("retry", settings.campaigns.retry))
    }  # fmt: skip

    def value(name: str) -> str:
        return defaults.get(name, "") if form is None else form.get(name, "")

    def checked(name: str, option: str) -> bool:
        return form is not None and option in form.getall(name, [])

    choices = {
        "kind": [(k.value, t(request, f"campaign.kind.{k.value}")) for k in CampaignKind],
        "mode": [(m.value, t(request, f"campaign.mode.{m.value}")) for m in PacingMode],
        "filter.sources": [(s.value, t(request, f"web.source.{s.value}")) for s in LeadSource],
        "filter.states": [(s.value, t(request, f"web.state.{s.value}")) for s in OPEN_STATES],
        "filter.intents": [(i.value, i.value) for i in IntentLevel],
        "filter.owners": [(a, a) for a in agents],
        "agents": [(a, a) for a in agents],
    }
    labels = {
        "name": t(request, "web.campaigns.field.name"), "kind": t(request, "campaign.col.kind"),
        "mode": t(request, "campaign.col.mode"), "agents": t(request, "web.campaigns.field.agents"),
        "lines": t(request, "web.campaigns.field.lines", max=settings.pbx.outbound_lines),
        "caller_id": t(request, "web.campaigns.field.caller_id"),
        "deadline_urgent_s": t(request, "web.campaigns.field.deadline_urgent_s"),
        "wrap_up_timeout_s": t(request, "web.campaigns.field.wrap_up_timeout_s"),
        **{f"filter.{key}": t(request, f"web.campaigns.field.{key}")
           for key in (*_FILTER_CHOICES, *_FILTER_TEXTS, *_FILTER_NUMBERS)},
        **{name: label for fields in sections.values() for name, label in fields},
    }  # fmt: skip
    return render(
        request, "campaign_form.html", t(request, "web.campaigns.new"), status=status, errors=errors,
        value=value, checked=checked, choices=choices, sections=sections, labels=labels,
        max_lines=settings.pbx.outbound_lines, default_caller_id=settings.pbx.caller_id,
        default_urgent=f"{settings.campaigns.deadline_urgent_s:g}", default_wrap_up=f"{settings.campaigns.wrap_up_timeout_s:g}",
    )  # fmt: skip


@routes.route("GET", "/campaigns/new", Action.CAMPAIGN_MANAGE, "The create-a-campaign form")
async def campaign_new(request: web.Request) -> web.StreamResponse:
    """The empty form, the settings' windows and retry rules filled in."""
    return await _form_page(request, None, {})


@routes.route("POST", "/campaigns", Action.CAMPAIGN_MANAGE, "Create a draft campaign (form)")
async def campaign_create(request: web.Request) -> web.StreamResponse:
    """Store the draft and go to the list; refused fields shown next to themselves, the rest kept as typed."""
    form = await request.post()
    strings = _strings(form)
    try:
        campaign_id = await _create(request, campaign_table(strings, request.app[SETTINGS]))
    except BadRequest as exc:
        return await _form_page(request, strings, exc.fields, status=400)
    raise web.HTTPSeeOther(f"/campaigns?created={campaign_id}")


def _strings(form: MultiMapping[Any]) -> MultiMapping[str]:
    """The form's text fields (a file part where text is expected reads as nothing)."""
    return MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
