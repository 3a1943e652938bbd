// The desk's phone controls and call card: presence over /api/desk/*, refreshed on the `desk` events screenpop.js sends.
// Texts and the CSRF token come from the page's data- attributes: no inline script, so the CSP can forbid it.
(() => {
  const panel = document.getElementById("phone"); if (!panel) return;
  const el = id => document.getElementById(id);
  const text = JSON.parse(panel.dataset.text);
  function render(s) {
    if (!s.agent) return;
    const st = el("phone-state");
    st.dataset.state = s.state;
    st.textContent = text["state_" + s.state] + (s.reason ? " (" + s.reason + ")" : "");
    el("phone-since").textContent = s.since ? text.since + " " + new Date(s.since).toLocaleTimeString() : "";
    el("phone-login-submit").hidden = !(s.presence === "logged_out" || (s.presence === "available" && !s.explicit));
    el("phone-logout-submit").hidden = s.presence === "logged_out";
    el("pause-reason").hidden = el("pause-submit").hidden = s.presence === "logged_out";
    el("resume-submit").hidden = s.presence !== "paused";
    const pop = el("call-pop"), c = s.call;
    pop.hidden = !c;
    if (c) {
      pop.dataset.leadId = c.lead_id;
      el("call-name").textContent = c.name || "-"; el("call-number").textContent = c.number || "-";
      el("call-source").textContent = c.source || "-"; el("call-intent").textContent = c.intent || "-";
      el("call-pop-link").href = "/leads/" + c.lead_id + (c.attempt_id ? "?call=" + c.attempt_id : "");
    }
    el("call-wrap-up").hidden = !s.wrap_up;
    if (s.wrap_up) el("call-wrap-up-ends").textContent = new Date(s.wrap_up.ends_at).toLocaleTimeString();
  }
  const refresh = () => fetch("/api/desk/state", {credentials: "same-origin"}).then(r => r.json()).then(render);
  async function send(path, body) {
    const resp = await fetch(path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": panel.dataset.csrf}, body: JSON.stringify(body || {})});
    const data = await resp.json();
    el("phone-error").textContent = resp.ok ? "" : (data.message || data.error);
    if (resp.ok) render(data);
  }
  el("phone-login-submit").onclick = () => send("/api/desk/login");
  el("phone-logout-submit").onclick = () => send("/api/desk/logout");
  el("pause-submit").onclick = () => send("/api/desk/pause", {reason: el("pause-reason").value});
  el("resume-submit").onclick = () => send("/api/desk/resume");
  async function refreshPreview() {
    const html = await (await fetch("/desk", {credentials: "same-origin"})).text();
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("preview");
    if (fresh) el("preview").replaceWith(fresh);
  }
  document.addEventListener("desk", e => {
    if (e.detail.type === "preview") refreshPreview(); else if (e.detail.type !== "pop" && e.detail.type !== "ended") refresh();
  });
  refresh();
})();
