// The SMS wave form's live count: how many customers the chosen template and filter reach now, and how
// many the rules refuse (suppressed, no consent, over the caps). GET /api/sms/waves/preview with the
// form's fields; the server decides (the same code a start uses), this only shows the answer.
// A static file: the CSP allows no inline script.
"use strict";

(function () {
  const form = document.getElementById("wave-form");
  const output = document.getElementById("wave-count");
  if (!form || !output) {
    return;
  }
  let timer = null;
  let asked = 0;

  async function count() {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      query.append(name, String(value));
    }
    if (!query.get("model")) {
      output.textContent = "";
      return;
    }
    const mine = ++asked;
    let text;
    try {
      const response = await fetch("/api/sms/waves/preview?" + query.toString(), {credentials: "same-origin"});
      const body = await response.json();
      text = response.ok ? body.recipients + " / " + body.selected : output.dataset.error + " " + (body.message || "");
    } catch (err) {
      text = output.dataset.error;
    }
    if (mine === asked) {  // an older answer arriving late does not overwrite a newer one
      output.textContent = text;
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(count, 250);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  count();
})();
