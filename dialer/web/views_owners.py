"""Owner names: the names lead files write in 负责人 for an agent, which the sales manager keeps.

One identity per person (docs/leads.md, "Owners"): an import files a row under the agent who goes by
its owner name (their login, identity or one of these aliases) and reports any other name. Here the
manager maps such a name to an agent, which also files the leads already carrying it under them
(:meth:`dialer.leads.service.LeadManager.add_alias`), and sees the names on leads nobody goes by.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.leads.service import ManageError
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest
from dialer.web.forms import json_object
from dialer.web.html import render, t
from dialer.web.keys import DIALER, console_actor
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_ALIAS = Param("alias", "the name as lead files write it (负责人)")
_USER = Param("user", "the agent's login or identity")


def _actor(request: web.Request) -> str:
    return console_actor(request)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest({key: "required"})
    return value


async def _add(request: web.Request, data: dict[str, Any]) -> int:
    try:
        return await request.app[DIALER].manager.add_alias(
            _text(data, "alias"), _text(data, "user"), _actor(request), dealers_of(request)
        )
    except ManageError as exc:
        raise BadRequest({exc.field: exc.reason}) from None


async def _remove(request: web.Request, data: dict[str, Any]) -> None:
    try:
        await request.app[DIALER].manager.remove_alias(_text(data, "alias"), _actor(request), dealers_of(request))
    except ManageError as exc:
        raise BadRequest({exc.field: exc.reason}) from None


@routes.route("GET", "/api/owners", Action.LEAD_ASSIGN, "Owner aliases, and owner names on leads nobody goes by")
async def api_owners(request: web.Request) -> web.StreamResponse:
    """``{"aliases": [{alias, user, agent}], "unknown": [{owner, leads}]}``."""
    names = await request.app[DIALER].manager.owner_names(dealers_of(request))
    return web.json_response({"aliases": [{"alias": a.alias, "user": a.user, "agent": a.agent} for a in names.aliases],
                              "unknown": [{"owner": o, "leads": n} for o, n in names.unknown]})  # fmt: skip


@routes.route("POST", "/api/owners/aliases", Action.LEAD_ASSIGN, "Map an owner name to an agent (files its leads)",
              body="application/json", fields=(_ALIAS, _USER))  # fmt: skip
async def api_add_alias(request: web.Request) -> web.StreamResponse:
    """``{alias, user}`` -> ``{alias, leads_moved}``; 400 with ``fields`` naming a bad alias or user."""
    data = await json_object(request)
    moved = await _add(request, data)
    return web.json_response({"alias": str(data["alias"]).strip(), "leads_moved": moved})


@routes.route("POST", "/api/owners/aliases/remove", Action.LEAD_ASSIGN, "Forget an owner name",
              body="application/json", fields=(_ALIAS,))  # fmt: skip
async def api_remove_alias(request: web.Request) -> web.StreamResponse:
    """``{alias}`` -> ``{alias}``; 400 if there is no such alias."""
    data = await json_object(request)
    await _remove(request, data)
    return web.json_response({"alias": str(data["alias"]).strip()})


async def _page(request: web.Request, *, notice: str = "", errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None, status: int = 200) -> web.Response:  # fmt: skip
    app = request.app[DIALER]
    names = await app.manager.owner_names(dealers_of(request))
    return render(
        request, "owners.html", t(request, "web.owners.title"), status=status, notice=notice, errors=errors or {},
        values=values or {}, aliases=names.aliases, unknown=names.unknown, agents=[("", "")] + [(a, a) for a in await app.leads.agents(dealers_of(request))],
    )  # fmt: skip


@routes.route("GET", "/manage/owners", Action.LEAD_ASSIGN, "Owner names: map the names lead files use to agents")
async def owners_page(request: web.Request) -> web.StreamResponse:
    """The aliases with a remove button each, the add form, the owner names nobody goes by."""
    query = request.query
    if "added" in query:
        notice = t(request, "web.owners.added", alias=query["added"], leads=query.get("leads", "0"))
    elif "removed" in query:
        notice = t(request, "web.owners.removed", alias=query["removed"])
    else:
        notice = ""
    return await _page(request, notice=notice)


@routes.route("POST", "/manage/owners", Action.LEAD_ASSIGN, "Owner names: add or remove an alias (form)")
async def owners_post(request: web.Request) -> web.StreamResponse:
    """``op`` add (alias, user) or remove (alias); then the page again with the result."""
    data = {k: str(v) for k, v in (await request.post()).items() if k != "csrf_token"}
    try:
        if data.get("op") == "remove":
            await _remove(request, data)
            done = {"removed": data["alias"].strip()}
        else:
            moved = await _add(request, data)
            done = {"added": data["alias"].strip(), "leads": str(moved)}
    except BadRequest as exc:
        return await _page(request, errors=exc.fields or {"_": exc.message}, values=data, status=400)
    raise web.HTTPSeeOther("/manage/owners?" + urlencode(done))
