// The wallboard's listen-in controls (listen, whisper, barge) for supervisors.
// Texts and the CSRF token come from the page's data- attributes: no inline script, so the CSP can forbid it.
(() => {
  const panel = document.getElementById("listen-in");
  const text = JSON.parse(panel.dataset.text);
  const el = id => document.getElementById(id);
  let running = null;
  function showRunning(row) {
    running = row;
    el("listen-in-status").textContent = row ? text.running.replace("{agent}", row.agent) + " · " + text["mode_" + row.modes[row.modes.length - 1]] : text.idle;
    el("listen-in-controls").hidden = !row;
  }
  async function call(path, body) {
    const resp = await fetch(path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": panel.dataset.csrf}, body: JSON.stringify(body || {})});
    const data = await resp.json();
    el("listen-in-error").textContent = resp.ok ? "" : (text["error_" + data.error] || data.message);
    if (resp.ok) showRunning(data.listen_in && !data.listen_in.ended_at ? data.listen_in : null);
  }
  panel.addEventListener("click", e => {
    const b = e.target.closest("button"); if (!b) return;
    if (b.dataset.switch) call("/api/supervise/switch", {mode: b.dataset.switch});
    else if (b.id === "listen-in-stop") call("/api/supervise/stop");
  });
  // The wallboard table is rebuilt on every snapshot: buttons go into each agent's last cell after it.
  const refresh = () => fetch("/api/supervise", {credentials: "same-origin"}).then(r => r.json()).then(d => showRunning(d.listen_in));
  document.addEventListener("wallboard", e => {
    if (running) refresh();  // a listen-in also ends when either call hangs up: the next frame notices
    const body = el("agents-body");
    e.detail.agents.forEach((a, i) => {
      const cell = body.rows[i].cells[body.rows[i].cells.length - 1];
      if (a.activity !== "in_call") return;
      text.modes.forEach(m => {
        const b = document.createElement("button");
        b.type = "button"; b.id = "listen-" + a.agent + "-" + m; b.textContent = text["mode_" + m];
        b.onclick = () => call("/api/supervise/start", {agent: a.agent, mode: m});
        cell.appendChild(b);
      });
    });
  });
  refresh();
})();
