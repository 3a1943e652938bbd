// The wallboard: tiles, agents, lines and campaigns from the /wallboard/ws socket.
// Labels in the page's language come from the tables' data- attributes: no inline script, so the CSP can forbid it.
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
  // The month's targets: what the sales manager set, the value so far, the share reached.
  const targets = document.getElementById("targets-body"), kpis = JSON.parse(document.getElementById("targets").dataset.labels);
  targets.innerHTML = "";
  const unit = (k, v) => v === null ? "-" : (k.endsWith("_rate") ? v.toFixed(1) + "%" : String(v));
  s.targets.forEach(p => {
    const row = targets.insertRow(); row.id = "target-" + p.kpi;
    [kpis[p.kpi], unit(p.kpi, p.target), unit(p.kpi, p.actual), pct(p.progress === null ? null : p.progress * 100)]
      .forEach(v => { row.insertCell().textContent = v; });
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
