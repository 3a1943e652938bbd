// The call card's hold, transfer and 3-way buttons: each posts its action to /api/calls/{attempt}/transfer.
// Texts and the CSRF token come from the card's data- attributes: no inline script, so the CSP can forbid it.
(() => {
  const card = document.getElementById("transfer"); if (!card) return;
  const el = id => document.getElementById(id);
  const text = JSON.parse(card.dataset.text);
  function show(s) {
    let line = text.party + " " + s.party;
    if (s.held) line += " · " + text.held;
    if (s.consulting) line += " · " + text.consulting + " " + s.consulting;
    if (s.handed_over) line += " · " + text.handed_over;
    if (s.lead) line += " · " + (s.lead.handed_over ? text.lead_handed_over + " " + s.lead.owner : s.lead.message);
    el("transfer-status").textContent = line;
    el("transfer-status").dataset.party = s.party;
    el("transfer-status").dataset.consulting = s.consulting || "";
    if (s.lead) el("transfer-status").dataset.leadOwner = s.lead.handed_over ? s.lead.owner : "";
  }
  async function send(action) {
    const resp = await fetch("/api/calls/" + card.dataset.attempt + "/transfer", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": card.dataset.csrf},
      body: JSON.stringify({action: action, target: el("transfer-target").value, hand_over_lead: el("transfer-lead").checked})});
    const data = await resp.json();
    el("transfer-error").textContent = resp.ok ? "" : (data.message || data.error);
    if (resp.ok) show(data);
  }
  card.querySelectorAll("button[data-action]").forEach(b => { b.onclick = () => send(b.dataset.action); });
})();
