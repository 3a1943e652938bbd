"""The supervisor wallboard page, its websocket, the JSON snapshot, and Prometheus /metrics."""

from __future__ import annotations

import json

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.calls.outcome import CallState
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.domain.kpi.targets import TargetKpi
from dialer.web.dealers import dealers_of
from dialer.web.errors import NotFound
from dialer.web.html import render, t
from dialer.web.keys import BROADCASTER, DIALER, METRICS
from dialer.web.metrics import CONTENT_TYPE
from dialer.web.routing import Open, RouteTable
from dialer.web.sockets import open_socket, stream
from dialer.web.views_supervise import listen_in_controls

routes = RouteTable()

# Tiles the page fills from each snapshot: (element id, i18n key).
_TILES = (
    ("outbound", "web.wb.outbound"),
    ("inbound", "web.wb.inbound"),
    ("calls_today", "web.wb.calls_today"),
    ("answered_today", "web.wb.answered_today"),
    ("abandon_today", "web.wb.abandon_today"),
    ("abandon_30d", "web.wb.abandon_30d"),
    ("follow_up_rate_month", "web.wb.follow_up_rate"),
    ("invite_rate_month", "web.wb.invite_rate"),
    ("deals_month", "web.wb.deals"),
    ("overdue_leads", "web.wb.overdue"),
    ("inbound_waiting", "web.wb.inbound_waiting"),
    ("inbound_wait_today", "web.wb.inbound_wait_today"),
    ("ami", "web.wb.ami"),
    ("disk", "web.wb.disk"),
)

# The line table's columns, in the order static/wallboard.js fills them.
_LINE_COLUMNS = (
    "web.wb.line",
    "web.col.phone",
    "web.wb.line_state",
    "web.wb.in_state",
    "web.col.agent",
    "web.wb.campaign",
)

# The campaign table's columns, in the order static/wallboard.js fills them.
_CAMPAIGN_COLUMNS = (
    "web.wb.campaign",
    "web.col.state",
    "web.wb.enrolled",
    "web.wb.dialled",
    "web.wb.in_flight",
    "web.wb.done",
)


# The month's targets table (the sales manager's, /reports/targets), in the order static/wallboard.js fills it.
_TARGET_COLUMNS = (
    "report.target.col.kpi",
    "report.target.col.target",
    "report.target.col.actual",
    "report.target.col.progress",
)


def _this_nodes_dealer(request: web.Request) -> None:
    """The wallboard shows this node's PBX and dealer (one snapshot for every viewer): another dealer's
    people find none here, as if there were none (their own dealer's node serves theirs)."""
    if not dealers_of(request).allows(request.app[DIALER].dealer.id):
        raise NotFound("wallboard_not_found", "this node's wallboard is another dealer's")


@routes.route("GET", "/wallboard", Action.WALLBOARD_VIEW, "The wallboard page (live over a websocket)")
async def wallboard(request: web.Request) -> web.StreamResponse:
    """Tiles and tables, filled by static/wallboard.js from the websocket."""
    _this_nodes_dealer(request)
    listen = listen_in_controls(request)
    agent_columns = ("web.col.agent", "web.wb.agent_state", "web.wb.in_state", "web.wb.calls_today") + (
        ("web.listen.title",) if listen else ()
    )
    line_labels = {"out": t(request, "web.wb.line_out"), "in": t(request, "web.wb.line_in"),
                   "free": t(request, "web.wb.line_free"), "over": t(request, "web.wb.line_over")} | {
        s.value: t(request, "web.wb.call_state." + s.value) for s in CallState
    }  # fmt: skip
    return render(
        request, "wallboard/wallboard.html", t(request, "web.wb.title"), tiles=_TILES, listen=listen,
        line_columns=_LINE_COLUMNS, agent_columns=agent_columns, campaign_columns=_CAMPAIGN_COLUMNS,
        line_labels=line_labels, states={s.value: t(request, "web.phone.state." + s.value) for s in AgentState},
        statuses={s.value: t(request, "campaign.status." + s.value) for s in CampaignStatus},
        target_columns=_TARGET_COLUMNS,
        target_labels={k.value: t(request, "report.target." + k.value) for k in TargetKpi},
    )  # fmt: skip


@routes.route("GET", "/wallboard/ws", Action.WALLBOARD_VIEW, "Wallboard snapshots as websocket messages")
async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    """Send the latest snapshot, then each changed one; a slow viewer only ever gets the newest."""
    _this_nodes_dealer(request)
    ws = await open_socket(request)
    broadcaster = request.app[BROADCASTER]
    await broadcaster.wait_ready()
    async with broadcaster.subscribe() as queue:

        async def next_snapshot() -> str:
            return json.dumps((await queue.get()).to_json(), ensure_ascii=False)

        await stream(request, ws, next_snapshot, "wallboard")
    return ws


@routes.route("GET", "/api/wallboard", Action.WALLBOARD_VIEW, "The latest wallboard snapshot")
async def api_wallboard(request: web.Request) -> web.StreamResponse:
    """The same data the websocket sends, for scripts that poll."""
    _this_nodes_dealer(request)
    return web.json_response((await request.app[BROADCASTER].wait_ready()).to_json())


@routes.route("GET", "/metrics", Open.PUBLIC, "Prometheus metrics", response="text/plain")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus exposition: public like any exporter, so bind the console to a trusted network."""
    broadcaster = request.app[BROADCASTER]
    snapshot = await broadcaster.wait_ready()
    dialer = request.app[DIALER]
    body = await request.app[METRICS].render(dialer.attempts, snapshot, broadcaster.viewers, dialer.health.failures())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
