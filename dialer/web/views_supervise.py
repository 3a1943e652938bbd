"""Listen, whisper and barge from the console, and the listen-in audit page.

Every request goes through :class:`~dialer.supervisor.service.SupervisorService`, which checks
the access policy and writes the audit row before the PBX is asked anything; this module only
translates HTTP to service calls and refusals back to HTTP.

The running listen-in is not kept in the console's memory: a supervisor's phone can be in one
listen-in at a time, so "my listen-in" is the newest open audit row under the login's name.
That row outlives a console restart exactly as long as the supervisor's call does, and the
stop button can always close a row whose call vanished unseen.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.supervisor.listen_ins import ListenIn
from dialer.store.listen_ins import ListenInStore
from dialer.supervisor.errors import (
    AgentNotOnCall,
    ListenInOver,
    ListenInRefused,
    NoPhone,
    SupervisorError,
)
from dialer.supervisor.service import ListenInSession, SpyMode, SupervisorService
from dialer.web.dealers import agent_filter, dealer_names, dealers_of
from dialer.web.errors import BadRequest, Forbidden, PbxUnavailable, WebError
from dialer.web.forms import json_object, parse_int
from dialer.web.html import allowed, policy_user, render, t
from dialer.web.keys import DIALER, SETTINGS, session_of
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

# Agent endpoints are PJSIP endpoint names; anything else must not reach ChanSpy's channel prefix.
_ENDPOINT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The audit page's default reach, the same as `dialer supervise log`.
_DEFAULT_DAYS = 30
# The audit goes back at most ten years: further is no question anyone asks, and would overflow the date.
_MAX_DAYS = 3660
# Rows on one audit page: a month of a busy team's listen-ins.
_AUDIT_LIMIT = 500


class Conflict(WebError):
    """The request does not fit the state of the call or of the user's listen-in (retry after it changes)."""

    status = 409


class PbxFailed(WebError):
    """The PBX did not take the request."""

    status = 502


def _service(request: web.Request) -> SupervisorService:
    service = request.app[DIALER].supervisor
    if service is None:
        raise PbxUnavailable("no_pbx", "this console runs without the PBX link; start it with the PBX to listen in")
    return service


def _audit(request: web.Request) -> ListenInStore:
    return request.app[DIALER].listen_ins


async def _mine(request: web.Request) -> ListenIn | None:
    """The user's running listen-in: their newest open audit row."""
    name = session_of(request).user.name
    rows = [row for row in await _audit(request).open_rows() if row.supervisor == name]
    return rows[-1] if rows else None


def _refusal(exc: SupervisorError) -> WebError:
    """The service's refusal as the HTTP answer the user can act on."""
    match exc:
        case ListenInRefused():
            return Forbidden("forbidden", str(exc))
        case NoPhone():
            return Conflict("no_phone", str(exc))
        case AgentNotOnCall():
            return Conflict("not_on_call", str(exc))
        case ListenInOver():
            return Conflict("listen_in_over", str(exc))
        case _:  # PbxRefused, and anything the service adds later: the PBX side failed
            return PbxFailed("pbx_refused", str(exc))


def _another_dealers_agent(request: web.Request) -> bool:
    """Whether the agents this node listens to are of a dealer this request does not see: every endpoint on
    the node's PBX is the node's dealer's (another showroom's 8001 is on its own PBX), so the agent's
    identity alone cannot tell, the node's dealer does."""
    return not dealers_of(request).allows(request.app[DIALER].dealer.id)


def _mode(body: dict[str, Any]) -> SpyMode:
    value = body.get("mode")
    try:
        return SpyMode(str(value))
    except ValueError:
        raise BadRequest({"mode": f"{value!r} is not one of {', '.join(m.value for m in SpyMode)}"}) from None


def _listen_in_json(row: ListenIn | None) -> dict[str, Any]:
    return {"listen_in": None if row is None else row.to_json_dict()}


@routes.route("GET", "/api/supervise", Action.LISTEN_IN_START, "My running listen-in (null when none)")
async def api_current(request: web.Request) -> web.StreamResponse:
    """What the wallboard's listen-in panel shows after a reload."""
    return web.json_response(_listen_in_json(await _mine(request)))


@routes.route("POST", "/api/supervise/start", Action.LISTEN_IN_START,
              "Listen in on an agent's live call: {agent, mode} (listen, whisper or barge)", body="application/json")  # fmt: skip
async def api_start(request: web.Request) -> web.StreamResponse:
    """Ring the user's phone into the agent's call; 409 while the user already listens in elsewhere."""
    body = await json_object(request, empty=True)
    agent = body.get("agent")
    if not isinstance(agent, str) or not _ENDPOINT.fullmatch(agent):
        raise BadRequest({"agent": f"{agent!r} is not an agent endpoint name"})
    mode = _mode(body)
    service = _service(request)
    running = await _mine(request)
    if running is not None:
        raise Conflict(
            "already_listening", f"listen-in #{running.id} on {running.agent!r} is still running; stop it first"
        )
    user = policy_user(request)
    assert user is not None, "the middleware let only logged-in users through"
    if _another_dealers_agent(request):
        # Answered as an agent with no call: another dealer's people are none of this person's business.
        raise _refusal(AgentNotOnCall(f"agent {agent!r} has no answered call to listen to"))
    try:
        session = await service.start(user, agent, mode)
    except SupervisorError as exc:
        raise _refusal(exc) from None
    return web.json_response(_listen_in_json(await _audit(request).get(session.id)), status=201)


@routes.route("POST", "/api/supervise/switch", Action.LISTEN_IN_START,
              "Switch my running listen-in to another mode: {mode}", body="application/json")  # fmt: skip
async def api_switch(request: web.Request) -> web.StreamResponse:
    """Same call, new mode; the supervisor's phone does not ring again."""
    mode = _mode(await json_object(request, empty=True))
    service = _service(request)
    row = await _mine(request)
    if row is None:
        raise Conflict("not_listening", "no listen-in of yours is running")
    try:
        await ListenInSession(service, row, SpyMode(row.modes[-1])).switch(mode)
    except SupervisorError as exc:
        raise _refusal(exc) from None
    return web.json_response(_listen_in_json(await _audit(request).get(row.id)))


@routes.route("POST", "/api/supervise/stop", Action.LISTEN_IN_START, "Stop my running listen-in")
async def api_stop(request: web.Request) -> web.StreamResponse:
    """Hang the supervisor's phone up and close the audit row (also when the call already vanished)."""
    service = _service(request)
    row = await _mine(request)
    if row is None:
        raise Conflict("not_listening", "no listen-in of yours is running")
    try:
        await ListenInSession(service, row, SpyMode(row.modes[-1])).stop()
    except SupervisorError as exc:
        raise _refusal(exc) from None
    return web.json_response(_listen_in_json(await _audit(request).get(row.id)))


async def _audit_rows(request: web.Request) -> list[ListenIn]:
    days = parse_int(request.query.get("days"), "days", default=_DEFAULT_DAYS, maximum=_MAX_DAYS)
    assert days is not None
    dealers, agent = await agent_filter(request)
    since = request.app[DIALER].clock.now() - timedelta(days=days)
    return await _audit(request).recent(since, agent=agent, limit=_AUDIT_LIMIT, dealers=dealers)


_AUDIT_QUERY = (
    Param("days", "how far back, in days (default 30)", "integer"),
    Param("agent", "only listen-ins on this agent; group-wide: code/agent, e.g. pudong/8001"),
)


@routes.route(
    "GET", "/api/listen-ins", Action.RECORDING_AUDIT_VIEW, "The listen-in audit log, newest first", query=_AUDIT_QUERY
)
async def api_listen_ins(request: web.Request) -> web.StreamResponse:
    """Who listened to whom, when, how long and in which modes."""
    return web.json_response({"listen_ins": [row.to_json_dict() for row in await _audit_rows(request)]})


@routes.route("GET", "/supervise/log", Action.RECORDING_AUDIT_VIEW, "The listen-in audit page")
async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit log as a table, in dealer time; a running listen-in shows no end yet."""
    rows = await _audit_rows(request)
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)

    def when(row: ListenIn) -> str:
        return row.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def modes(row: ListenIn) -> str:
        return " → ".join(t(request, "web.listen.mode." + m) for m in row.modes)

    def ended(row: ListenIn) -> str:
        return (
            t(request, "web.listen.running")
            if row.end_reason is None
            else t(request, "web.listen.end." + row.end_reason)
        )

    keys: tuple[str, ...] = ("supervise.col.id", "supervise.col.supervisor", "supervise.col.agent", "supervise.col.modes",
            "supervise.col.started", "supervise.col.seconds", "web.listen.col.end")  # fmt: skip
    table: list[tuple[object, ...]] = [
        (r.id, r.supervisor, r.agent, modes(r), when(r), "" if r.seconds is None else f"{r.seconds:.0f}", ended(r))
        for r in rows
    ]
    if dealers_of(request).mixed:  # several dealers' listen-ins: each names its dealer
        keys += ("web.col.dealer",)
        names = await dealer_names(request)
        table = [(*line, names.get(r.dealer_id, "")) for line, r in zip(table, rows, strict=True)]
    return render(
        request, "supervise_log.html", t(request, "web.listen.audit_title"),
        days=request.query.get("days", _DEFAULT_DAYS), agent=request.query.get("agent", ""),
        headers=[t(request, k) for k in keys], rows=table,
    )  # fmt: skip


_ERRORS = (
    "forbidden",
    "no_phone",
    "not_on_call",
    "listen_in_over",
    "pbx_refused",
    "no_pbx",
    "already_listening",
    "not_listening",
)


def listen_in_controls(request: web.Request) -> dict[str, object] | None:
    """What templates/wallboard/_listen_in.html shows (static/listen-in.js runs it); the agent table gets a
    button column with it. None for a role the policy does not let listen in: the buttons show only where they would work.
    """
    if not allowed(request, Action.LISTEN_IN_START):
        return None
    text = {
        "idle": t(request, "web.listen.idle"),
        "running": t(request, "web.listen.running_on", agent="{agent}"),
        "modes": [m.value for m in SpyMode],
        **{f"mode_{m.value}": t(request, "web.listen.mode." + m.value) for m in SpyMode},
        **{f"error_{code}": t(request, "web.listen.error." + code) for code in _ERRORS},
    }
    return {
        "text": text,
        "modes": [m.value for m in SpyMode],
        "log_link": allowed(request, Action.RECORDING_AUDIT_VIEW),
    }
