// The desk's browser phone (WebRTC): SIP.js (served by the console, /vendor/sip.js/) registers the agent's own
// account over Asterisk's WebSocket; calls ring, are answered and hung up here. The account comes from
// /api/desk/browser-phone (this login's only, never cached); texts from the panel's data-text.
(() => {
  const panel = document.getElementById("browser-phone"); if (!panel) return;
  const el = id => document.getElementById(id);
  const text = JSON.parse(panel.dataset.text);
  let phone = null, state = "off";
  function show(next) {
    state = next;
    const s = el("browser-phone-state");
    s.dataset.state = next; s.textContent = text["state_" + next];
    el("browser-phone-start").hidden = !(next === "off" || next === "failed" || next === "disconnected");
    el("browser-phone-answer").hidden = next !== "ringing";
    el("browser-phone-hangup").hidden = !(next === "ringing" || next === "in_call");
    if (next === "registered" || next === "in_call") el("browser-phone-error").textContent = "";
  }
  function fail(key, detail) {
    el("browser-phone-error").textContent = text[key] + (detail ? " (" + detail + ")" : "");
    show("failed");
  }
  // Asked once when the phone starts, so a refused or missing microphone is explained before a call rings.
  async function checkMicrophone() {
    if (!window.isSecureContext || !navigator.mediaDevices) return "insecure";
    try {
      const stream = await navigator.mediaDevices.getUserMedia({audio: true});
      stream.getTracks().forEach(track => track.stop());  // each call asks again; the light stays off meanwhile
      return "";
    } catch (e) {
      if (e.name === "NotAllowedError" || e.name === "SecurityError") return "mic_denied";
      if (e.name === "NotFoundError" || e.name === "OverconstrainedError") return "mic_missing";
      if (e.name === "NotReadableError" || e.name === "AbortError") return "mic_busy";
      return "mic_failed";
    }
  }
  async function start() {
    show("starting");
    let SIP;
    try { SIP = await import("/vendor/sip.js/index.js"); } catch (e) { return fail("library_missing"); }
    const problem = await checkMicrophone();
    if (problem) return fail(problem);
    const resp = await fetch("/api/desk/browser-phone", {credentials: "same-origin", cache: "no-store"});
    if (!resp.ok) return fail("no_account", (await resp.json()).message);
    const account = await resp.json();
    phone = new SIP.Web.SimpleUser(account.websocket, {
      aor: account.uri,
      media: {constraints: {audio: true, video: false}, remote: {audio: el("browser-phone-audio")}},
      userAgentOptions: {
        authorizationUsername: account.username, authorizationHa1: account.ha1,
        // No STUN server: the PBX is on the agents' own network, and nothing here reaches the internet.
        sessionDescriptionHandlerFactoryOptions: {peerConnectionConfiguration: {iceServers: []}},
        logLevel: "warn",
      },
      delegate: {
        onRegistered: () => show("registered"),
        onUnregistered: () => { if (state !== "failed") show("disconnected"); },
        onServerDisconnect: () => show("disconnected"),
        onCallReceived: () => show("ringing"),
        onCallAnswered: () => show("in_call"),
        onCallHangup: () => show(phone && phone.isConnected() ? "registered" : "disconnected"),
      },
    });
    try {
      await phone.connect();
      await phone.register(undefined, {requestDelegate: {onReject: r => fail("register_failed", r.message.statusCode)}});
    } catch (e) { fail("register_failed", e.message); }
  }
  // While the phone runs, a lead card opens beside the desk: leaving this page would end the phone and its call.
  document.addEventListener("click", e => {
    const link = e.target.closest && e.target.closest("a[href^='/leads/']");
    if (link && phone) link.target = "_blank";
  }, true);
  el("browser-phone-start").onclick = start;
  el("browser-phone-answer").onclick = async () => {
    try { await phone.answer(); } catch (e) {
      const name = e && e.name;
      fail(name === "NotAllowedError" ? "mic_denied" : name === "NotFoundError" ? "mic_missing" : "mic_failed", e.message);
    }
  };
  el("browser-phone-hangup").onclick = () => (state === "ringing" ? phone.decline() : phone.hangup());
  window.addEventListener("beforeunload", e => { if (state === "in_call") { e.preventDefault(); e.returnValue = text.leave_in_call; } });
  window.addEventListener("pagehide", () => { if (phone) phone.unregister().catch(() => {}); });
})();
