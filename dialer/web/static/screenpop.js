// The desk's screen-pop card: fills it from the /desk/ws socket and re-sends each message as a `desk` DOM event for desk-phone.js.
// A file, not inline script, so the CSP can forbid inline code.
(() => {
  const box = document.getElementById("screenpop");
  const el = id => document.getElementById(id);
  let current = null;
  function show(m) {
    if (m.type === "pop") {
      current = m.call_id;
      el("pop-name").textContent = m.name || "-"; el("pop-number").textContent = m.number || "-";
      el("pop-source").textContent = m.source || "-"; el("pop-intent").textContent = m.intent || "-";
      el("pop-new").hidden = !m.new_lead; el("pop-ended").hidden = true;
      const link = el("pop-link"); link.hidden = !m.url; if (m.url) link.href = m.url;
      box.hidden = false;
    } else if (m.type === "ended" && m.call_id === current) {
      el("pop-ended").hidden = false;
    }
  }
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/desk/ws");
    ws.onmessage = e => { const m = JSON.parse(e.data); show(m); document.dispatchEvent(new CustomEvent("desk", {detail: m})); };
    ws.onclose = () => setTimeout(connect, 2000);
  }
  connect();
})();
