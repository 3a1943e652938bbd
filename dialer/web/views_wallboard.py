"""The supervisor wallboard page, its websocket, the JSON snapshot, and Prometheus /metrics."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from dialer.access.policy import Action
from dialer.logging import get_logger
from dialer.web.errors import Forbidden
from dialer.web.html import esc, page, t
from dialer.web.keys import BROADCASTER, DIALER, METRICS
from dialer.web.metrics import CONTENT_TYPE
from dialer.web.routing import Open, RouteTable

log = get_logger(__name__)
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
    ("ami", "web.wb.ami"),
    ("disk", "web.wb.disk"),
)

_SCRIPT = """
const pct = v => v === null || v === undefined ? "-" : v.toFixed(1) + "%";
function show(s) {
  const set = (id, text) => { document.getElementById("tile-" + id).textContent = text; };
  set("outbound", s.outbound_in_use + " / " + s.outbound_lines);
  set("inbound", s.inbound_in_use + " / " + s.inbound_lines);
  set("calls_today", s.calls_today); set("answered_today", s.answered_today);
  set("abandon_today", pct(s.abandon_today.rate * 100)); set("abandon_30d", pct(s.abandon_30d.rate * 100));
  set("follow_up_rate_month", pct(s.follow_up_rate_month)); set("invite_rate_month", pct(s.invite_rate_month));
  set("deals_month", s.deals_month); set("overdue_leads", s.overdue_leads);
  set("ami", s.ami_connected === null ? "-" : (s.ami_connected ? "UP" : "DOWN"));
  set("disk", s.disk ? s.disk.level + " (" + s.disk.free_mb + " MB)" : "-");
  const rows = s.agents.map(a => "<tr><td></td><td></td><td></td></tr>");
  const body = document.getElementById("agents-body"); body.innerHTML = rows.join("");
  s.agents.forEach((a, i) => { const c = body.rows[i].cells; c[0].textContent = a.agent; c[1].textContent = a.activity; c[2].textContent = a.calls_today; });
  document.getElementById("updated").textContent = s.at;
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/wallboard/ws");
  ws.onmessage = e => show(JSON.parse(e.data));
  ws.onclose = () => setTimeout(connect, 2000);
}
connect();
"""


@routes.route("GET", "/wallboard", Action.WALLBOARD_VIEW, "The wallboard page (live over a websocket)")
async def wallboard(request: web.Request) -> web.StreamResponse:
    """Tiles and the agent table, filled by the page's script from the websocket."""
    tiles = "".join(f'<div class="tile"><b id="tile-{tid}">-</b>{esc(t(request, key))}</div>' for tid, key in _TILES)
    heads = "".join(f"<th>{esc(t(request, k))}</th>" for k in ("web.col.agent", "web.col.activity", "web.wb.calls_today"))
    body = (
        f'<div class="tiles" id="tiles">{tiles}</div>'
        f'<table id="agents"><thead><tr>{heads}</tr></thead><tbody id="agents-body"></tbody></table>'
        f'<p>{esc(t(request, "web.wb.updated"))} <span id="updated">-</span></p>'
    )
    return page(request, t(request, "web.wb.title"), body, script=_SCRIPT)


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websocket handshakes; refusing foreign ones stops cross-site hijacking."""
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


@routes.route("GET", "/wallboard/ws", Action.WALLBOARD_VIEW, "Wallboard snapshots as websocket messages")
async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    """Send the latest snapshot, then each changed one; a slow viewer only ever gets the newest."""
    if not _same_origin(request):
        raise Forbidden("cross_origin", "websocket from another origin")
    broadcaster = request.app[BROADCASTER]
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    await broadcaster.wait_ready()
    async with broadcaster.subscribe() as queue:
        # Reading is what notices a closed socket (and answers pings); it runs beside the sending loop.
        reader = asyncio.create_task(_read_until_closed(ws))
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _pending = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    break
                # send_str waits for the transport to drain: a slow viewer slows only its own loop.
                await ws.send_str(json.dumps(getter.result().to_json(), ensure_ascii=False))
        except ConnectionResetError:
            log.info("web.wallboard_viewer_gone")
        finally:
            reader.cancel()
    await ws.close()
    return ws


async def _read_until_closed(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return


@routes.route("GET", "/api/wallboard", Action.WALLBOARD_VIEW, "The latest wallboard snapshot")
async def api_wallboard(request: web.Request) -> web.StreamResponse:
    """The same data the websocket sends, for scripts that poll."""
    return web.json_response((await request.app[BROADCASTER].wait_ready()).to_json())


@routes.route("GET", "/metrics", Open.PUBLIC, "Prometheus metrics", response="text/plain")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus exposition: public like any exporter, so bind the console to a trusted network."""
    broadcaster = request.app[BROADCASTER]
    snapshot = await broadcaster.wait_ready()
    body = await request.app[METRICS].render(request.app[DIALER].db, snapshot, broadcaster.viewers)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
