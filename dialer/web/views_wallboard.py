"""The supervisor wallboard page, its websocket, the JSON snapshot, and Prometheus /metrics."""

from __future__ import annotations

import json

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.calls.outcome import CallState
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.web.html import esc, page, t
from dialer.web.keys import BROADCASTER, DIALER, METRICS
from dialer.web.metrics import CONTENT_TYPE
from dialer.web.routing import Open, RouteTable
from dialer.web.sockets import open_socket, stream
from dialer.web.views_supervise import listen_in_panel

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

# The line table's columns, in the order the script fills them.
_LINE_COLUMNS = (
    "web.wb.line",
    "web.col.phone",
    "web.wb.line_state",
    "web.wb.in_state",
    "web.col.agent",
    "web.wb.campaign",
)

# The campaign table's columns, in the order the script fills them.
_CAMPAIGN_COLUMNS = (
    "web.wb.campaign",
    "web.col.state",
    "web.wb.enrolled",
    "web.wb.dialled",
    "web.wb.in_flight",
    "web.wb.done",
)

_SCRIPT = """
let offset = 0;
function tick() {
  document.querySelectorAll(".agent-since, .line-since").forEach(c => {
    if (!c.dataset.since) { c.textContent = "-"; return; }
    const s = Math.max(0, Math.floor((Date.now() + offset - Date.parse(c.dataset.since)) / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, two = n => String(n).padStart(2, "0");
    c.textContent = (h ? h + ":" + two(m) : m) + ":" + two(s % 60);
  });
}
setInterval(tick, 1000);
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
  const w = s.inbound_waits;
  set("inbound_waiting", w.waiting + (w.longest_wait_s === null ? "" : " (" + w.longest_wait_s + " s)"));
  set("inbound_wait_today", w.average_wait_today_s === null ? "-" : w.average_wait_today_s.toFixed(1) + " s / " + w.connected_today);
  const board = document.getElementById("agents"), labels = JSON.parse(board.dataset.states);
  const cols = board.tHead.rows[0].cells.length;
  // Server clock minus this browser's: the "for" column counts from the server's "since".
  offset = Date.parse(s.at) - Date.now();
  const body = document.getElementById("agents-body"); body.innerHTML = "";
  s.agents.forEach(a => {
    const row = body.insertRow(); row.id = "agent-" + a.agent;
    for (let i = 0; i < cols; i++) row.insertCell();
    const c = row.cells;
    c[0].textContent = a.agent;
    c[1].className = "agent-state"; c[1].dataset.state = a.state;
    c[1].textContent = labels[a.state] + (a.reason ? " (" + a.reason + ")" : "");
    c[2].className = "agent-since"; c[2].dataset.since = a.since || "";
    c[3].textContent = a.calls_today;
  });
  // Every line of the PBX gets a row (8 out, 4 in): a free one says so, a busy one what its call does.
  const lines = document.getElementById("lines"), lineText = JSON.parse(lines.dataset.labels);
  const lineBody = document.getElementById("lines-body"); lineBody.innerHTML = "";
  [["outbound", s.outbound_lines, "out"], ["inbound", s.inbound_lines, "in"]].forEach(([dir, count, tag]) => {
    const calls = s.lines.filter(l => l.direction === dir);
    for (let i = 0; i < count; i++) {
      const row = lineBody.insertRow(); row.id = "line-" + tag + "-" + (i + 1);
      const c = [0, 1, 2, 3, 4, 5].map(() => row.insertCell()), l = calls[i];
      c[0].textContent = lineText[tag] + " " + (i + 1);
      c[2].className = "line-state"; c[2].dataset.state = l ? l.state : "free";
      c[2].textContent = lineText[l ? l.state : "free"];
      c[3].className = "line-since"; c[3].dataset.since = l ? l.since : "";
      if (!l) continue;
      c[1].textContent = l.number; c[4].textContent = l.agent || "-";
      c[5].textContent = l.campaign_id === null ? "-" : "#" + l.campaign_id;
    }
    if (calls.length > count) row_over(lineBody, calls.length - count, lineText.over);
  });
  tick();
  const camps = document.getElementById("campaigns-body"), statuses = JSON.parse(document.getElementById("campaigns").dataset.statuses);
  camps.innerHTML = "";
  s.campaigns.forEach(p => {
    const row = camps.insertRow(); row.id = "campaign-" + p.campaign_id;
    [p.name + " #" + p.campaign_id, statuses[p.status], p.enrolled, p.dialled, p.in_flight, p.done].forEach(v => { row.insertCell().textContent = v; });
  });
  document.getElementById("updated").textContent = new Date(Date.parse(s.at)).toLocaleString(document.documentElement.lang || "zh-CN");
  document.dispatchEvent(new CustomEvent("wallboard", {detail: s}));  // the listen-in panel adds its buttons
}
function row_over(body, n, text) {  // more calls than lines: the PBX's own limit should never allow it
  const row = body.insertRow(); row.id = "lines-over"; row.insertCell().textContent = text + " " + n;
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
    listen_html, listen_script, listen_column = listen_in_panel(request)
    columns = ("web.col.agent", "web.wb.agent_state", "web.wb.in_state", "web.wb.calls_today") + (
        ("web.listen.title",) if listen_column else ()
    )
    heads = "".join(f"<th>{esc(t(request, k))}</th>" for k in columns)
    states = json.dumps({s.value: t(request, "web.phone.state." + s.value) for s in AgentState}, ensure_ascii=False)
    campaign_heads = "".join(f"<th>{esc(t(request, k))}</th>" for k in _CAMPAIGN_COLUMNS)
    statuses = json.dumps(
        {s.value: t(request, "campaign.status." + s.value) for s in CampaignStatus}, ensure_ascii=False
    )
    line_heads = "".join(f"<th>{esc(t(request, k))}</th>" for k in _LINE_COLUMNS)
    line_labels = json.dumps({"out": t(request, "web.wb.line_out"), "in": t(request, "web.wb.line_in"), "free": t(request, "web.wb.line_free"),
                              "over": t(request, "web.wb.line_over")}
                             | {s.value: t(request, "web.wb.call_state." + s.value) for s in CallState}, ensure_ascii=False)  # fmt: skip
    body = (
        f'<div class="tiles" id="tiles">{tiles}</div>{listen_html}'
        f"<h2>{esc(t(request, 'web.wb.lines'))}</h2>"
        f'<table id="lines" data-labels="{esc(line_labels)}"><thead><tr>{line_heads}</tr></thead><tbody id="lines-body"></tbody></table>'
        f"<h2>{esc(t(request, 'web.wb.agents'))}</h2>"
        f'<table id="agents" data-states="{esc(states)}"><thead><tr>{heads}</tr></thead><tbody id="agents-body"></tbody></table>'
        f"<h2>{esc(t(request, 'web.wb.campaigns'))}</h2>"
        f'<table id="campaigns" data-statuses="{esc(statuses)}"><thead><tr>{campaign_heads}</tr></thead><tbody id="campaigns-body"></tbody></table>'
        f'<p>{esc(t(request, "web.wb.updated"))} <span id="updated">-</span></p>'
    )
    return page(request, t(request, "web.wb.title"), body, script=_SCRIPT + listen_script)


@routes.route("GET", "/wallboard/ws", Action.WALLBOARD_VIEW, "Wallboard snapshots as websocket messages")
async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    """Send the latest snapshot, then each changed one; a slow viewer only ever gets the newest."""
    ws = await open_socket(request)
    broadcaster = request.app[BROADCASTER]
    await broadcaster.wait_ready()
    async with broadcaster.subscribe() as queue:

        async def next_snapshot() -> str:
            return json.dumps((await queue.get()).to_json(), ensure_ascii=False)

        await stream(ws, next_snapshot, "wallboard")
    return ws


@routes.route("GET", "/api/wallboard", Action.WALLBOARD_VIEW, "The latest wallboard snapshot")
async def api_wallboard(request: web.Request) -> web.StreamResponse:
    """The same data the websocket sends, for scripts that poll."""
    return web.json_response((await request.app[BROADCASTER].wait_ready()).to_json())


@routes.route("GET", "/metrics", Open.PUBLIC, "Prometheus metrics", response="text/plain")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus exposition: public like any exporter, so bind the console to a trusted network."""
    broadcaster = request.app[BROADCASTER]
    snapshot = await broadcaster.wait_ready()
    dialer = request.app[DIALER]
    body = await request.app[METRICS].render(dialer.db, snapshot, broadcaster.viewers, dialer.health.failures())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
