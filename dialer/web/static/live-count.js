// A form's live count: as the user edits the form, ask the server how many customers it selects now
// and show the answer in the form's <output data-live-count="URL">. The server decides (the same code
// that starts the campaign or sends the wave); this only shows its answer. The output says which
// fields to send (data-fields: names, or prefixes ending in "."; all when absent), which one must be
// filled before asking (data-requires) and how to show the JSON answer (data-show: "{key}" placeholders).
// A static file: the CSP allows no inline script.
"use strict";

(function () {
  function wanted(spec, name) {
    return !spec || spec.split(" ").some((f) => (f.endsWith(".") ? name.startsWith(f) : name === f));
  }

  function watch(output) {
    const form = output.closest("form");
    if (!form) {
      return;
    }
    let timer = null;
    let asked = 0;

    async function count() {
      const query = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        if (wanted(output.dataset.fields, name)) {
          query.append(name, String(value));
        }
      }
      if (output.dataset.requires && !query.get(output.dataset.requires)) {
        output.textContent = "";
        return;
      }
      const mine = ++asked;
      let text;
      try {
        const response = await fetch(output.dataset.liveCount + "?" + query.toString(), {credentials: "same-origin"});
        const body = await response.json();
        text = response.ok
          ? output.dataset.show.replace(/\{(\w+)\}/g, (_, key) => String(body[key]))
          : output.dataset.error + " " + (body.message || "");
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
  }

  document.querySelectorAll("output[data-live-count]").forEach(watch);
})();
