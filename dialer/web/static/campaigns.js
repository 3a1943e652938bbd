// The create-a-campaign form's live count: how many leads the chosen kind and filter select now.
// GET /api/campaigns/count with the form's own kind and filter.* fields; the server decides (the same
// filter code a start uses), this only shows the answer. A static file: the CSP allows no inline script.
"use strict";

(function () {
  const form = document.getElementById("campaign-form");
  const output = document.getElementById("campaign-count");
  if (!form || !output) {
    return;
  }
  let timer = null;
  let asked = 0;

  async function count() {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (name === "kind" || name.startsWith("filter.")) {
        query.append(name, String(value));
      }
    }
    const mine = ++asked;
    let text;
    try {
      const response = await fetch("/api/campaigns/count?" + query.toString(), {credentials: "same-origin"});
      const body = await response.json();
      text = response.ok ? String(body.count) : output.dataset.error + " " + (body.message || "");
    } catch (err) {
      text = output.dataset.error;
    }
    if (mine === asked) {  // an older answer arriving late does not overwrite a newer one
      output.textContent = text;
      output.dataset.count = text;
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
