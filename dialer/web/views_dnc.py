"""The suppression list's screen (勿扰名单, #15 item 4): search it, add a number, take one off with a reason.

The same list SMS replies, the agents' 勿扰 and imports feed, and that calls and SMS obey; every
change goes through :class:`dialer.privacy.service.PrivacyService` (the reason is required and kept,
a removed entry stays, stamped with who and why). A page with plain forms, and the same as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.privacy.suppression import REASON_MAX, SuppressionError, SuppressionSource
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest
from dialer.web.forms import json_object, parse_int
from dialer.web.html import render, t
from dialer.web.keys import DIALER, SETTINGS, console_actor
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

LIMIT_DEFAULT = 200
LIMIT_MAX = 1000
# A search is part of a number or of a reason: longer is no search.
SEARCH_MAX = REASON_MAX
_TRUE = frozenset({"1", "true", "on", "yes"})
_QUERY = (
    Param("q", "part of a number or of a reason (empty: every entry)"),
    Param("all", "also entries taken off the list (1/true)"),
    Param("limit", f"at most this many entries (1-{LIMIT_MAX}, default {LIMIT_DEFAULT})", "integer"),
)
_FIELDS = (
    Param("number", "the phone number, as typed (normalized like every number)", required=True),
    Param("reason", f"why (1-{REASON_MAX} characters, kept with the entry)", required=True),
)


def parse_search(query: Mapping[str, str]) -> tuple[str, bool, int]:
    """``q``, ``all`` and ``limit`` from a query string; :class:`BadRequest` names each bad one."""
    text = query.get("q", "")
    errors: dict[str, str] = {}
    if len(text) > SEARCH_MAX:
        errors["q"] = f"{len(text)} characters, at most {SEARCH_MAX}"
    try:
        limit = parse_int(query.get("limit"), "limit", default=LIMIT_DEFAULT, maximum=LIMIT_MAX)
    except BadRequest as exc:
        errors.update(exc.fields)
        limit = LIMIT_DEFAULT
    if limit is not None and limit < 1:
        errors["limit"] = f"{limit} is not between 1 and {LIMIT_MAX}"
    if errors:
        raise BadRequest(errors)
    assert limit is not None
    return text, query.get("all", "").lower() in _TRUE, limit


def parse_change(data: Mapping[str, Any]) -> tuple[str, str]:
    """``number`` and ``reason`` from JSON or a form; :class:`BadRequest` names each missing or bad one."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in ("number", "reason"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = "required"
        elif len(value) > REASON_MAX:
            errors[name] = f"{len(value)} characters, at most {REASON_MAX}"
        else:
            values[name] = value
    if errors:
        raise BadRequest(errors)
    return values["number"], values["reason"]


async def _change(request: web.Request, data: Mapping[str, Any], add: bool) -> tuple[str, bool]:
    number, reason = parse_change(data)
    privacy = request.app[DIALER].privacy
    actor = console_actor(request)
    try:
        if add:
            return await privacy.suppress(
                number, reason, SuppressionSource.CONSOLE, actor, dealers_of(request).dealer_id
            )
        return await privacy.lift(number, reason, actor, dealers_of(request))
    except SuppressionError as exc:
        raise BadRequest({exc.field: str(exc)}) from None


@routes.route("GET", "/api/dnc", Action.DNC_VIEW, "Search the suppression list", query=_QUERY)
async def api_dnc_list(request: web.Request) -> web.StreamResponse:
    """Entries whose number or reason contains ``q``, newest first."""
    text, everything, limit = parse_search(request.query)
    entries = await request.app[DIALER].privacy.search(
        text, include_lifted=everything, limit=limit, dealers=dealers_of(request)
    )
    return web.json_response({"entries": [e.to_json_dict() for e in entries]})


@routes.route("POST", "/api/dnc", Action.DNC_MANAGE, "Put a number on the suppression list",
              body="application/json", fields=_FIELDS)  # fmt: skip
async def api_dnc_add(request: web.Request) -> web.StreamResponse:
    """201 when the number was added, 200 when it was on the list already (its first entry is kept)."""
    e164, added = await _change(request, await json_object(request), add=True)
    return web.json_response({"number": e164, "added": added}, status=201 if added else 200)


@routes.route("POST", "/api/dnc/remove", Action.DNC_MANAGE, "Take a number off the suppression list",
              body="application/json", fields=_FIELDS)  # fmt: skip
async def api_dnc_remove(request: web.Request) -> web.StreamResponse:
    """The entry is kept, stamped with who and why; 404 when the number was not on the list."""
    e164, lifted = await _change(request, await json_object(request), add=False)
    return web.json_response({"number": e164, "removed": lifted}, status=200 if lifted else 404)


@routes.route("GET", "/dnc", Action.DNC_VIEW, "The suppression list page", query=_QUERY)
async def dnc_page(request: web.Request) -> web.StreamResponse:
    """The search, the table, and the add and remove forms."""
    return await _page(request, {}, {})


@routes.route("POST", "/dnc", Action.DNC_MANAGE, "Put a number on the suppression list (form)")
async def dnc_add(request: web.Request) -> web.StreamResponse:
    """Add, then show the number's entry; a refused field is shown next to itself."""
    return await _form(request, add=True)


@routes.route("POST", "/dnc/remove", Action.DNC_MANAGE, "Take a number off the suppression list (form)")
async def dnc_remove(request: web.Request) -> web.StreamResponse:
    """Remove (the entry is kept), then show the number's entries."""
    return await _form(request, add=False)


async def _form(request: web.Request, *, add: bool) -> web.StreamResponse:
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        e164, changed = await _change(request, form, add)
    except BadRequest as exc:
        return await _page(request, exc.fields, form, status=400, form_id="add" if add else "remove")
    done = ("added" if changed else "already") if add else ("removed" if changed else "absent")
    raise web.HTTPSeeOther(f"/dnc?q={e164.lstrip('+')}&all=1&done={done}")


async def _page(
    request: web.Request, errors: Mapping[str, str], typed: Mapping[str, str], *, status: int = 200, form_id: str = ""
) -> web.StreamResponse:
    text, everything, limit = parse_search(request.query)
    entries = await request.app[DIALER].privacy.search(
        text, include_lifted=everything, limit=limit, dealers=dealers_of(request)
    )
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)

    def local(at: Any) -> str:
        return "" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    keys = ("number", "reason", "source", "at", "by", "lifted")
    rows = [
        (e.e164, e.reason, t(request, f"privacy.source.{e.source.value}"), local(e.at), e.actor,
         "" if e.active else f"{local(e.lifted_at)} {e.lifted_by}: {e.lift_reason}")
        for e in entries
    ]  # fmt: skip
    done = request.query.get("done", "")
    return render(
        request, "dnc.html", t(request, "web.dnc.title"), status=status, q=text, everything=everything,
        headers=[t(request, f"cli.privacy.col.{k}") for k in keys], rows=rows, errors=dict(errors),
        typed=dict(typed), form_id=form_id,
        done=t(request, f"web.dnc.done.{done}") if done in ("added", "already", "removed", "absent") else "",
    )  # fmt: skip
