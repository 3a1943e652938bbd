// The lead import form's progress: while the browser waits for the report of a long import, ask the
// server how far that import got (GET /api/leads/import/progress/{token}, the token this page put into
// the form) and show its answer under the form. The server's words, in the user's language; without
// this script the form works the same, with no progress shown. A static file: the CSP allows no inline script.
"use strict";

(function () {
  const form = document.getElementById("import-form");
  const token = document.getElementById("import-progress-token");
  const output = document.getElementById("import-progress");
  if (!form || !token || !output || !window.crypto || !window.crypto.randomUUID) {
    return;
  }
  form.addEventListener("submit", function () {
    token.value = window.crypto.randomUUID();
    output.hidden = false;
    const url = "/api/leads/import/progress/" + token.value;
    async function poll() {
      try {
        const response = await fetch(url, {credentials: "same-origin"});
        if (response.ok) {
          output.textContent = (await response.json()).text;
        }
      } catch (err) {
        // The report replaces this page when the import ends; a failed poll just waits for the next.
      }
      window.setTimeout(poll, 1000);
    }
    window.setTimeout(poll, 500);
  });
})();
