// Import pages: upload with the CSRF header (the file streams in, past the plain form's size
// limit), and on a job's page a progress bar polled from the job's JSON until it is done; then
// the page reloads to show the report the server renders.
"use strict";

(function () {
  const t = I18N.t;

  function csrfOf(form) {
    const field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  const upload = document.getElementById("upload-form");
  if (upload) {
    upload.addEventListener("submit", async function (event) {
      event.preventDefault();
      const error = document.getElementById("import-error");
      const button = upload.querySelector('button[type="submit"]');
      button.disabled = true;
      error.hidden = true;
      try {
        const response = await fetch(upload.action, {
          method: "POST",
          body: new FormData(upload),
          headers: { "X-CSRF-Token": csrfOf(upload), Accept: "application/json" },
          credentials: "same-origin",
        });
        const data = await response.json();
        if (response.ok && data.url) {
          window.location.assign(data.url);
          return;
        }
        error.textContent = data.message || t("The upload failed.");
      } catch (_failure) {
        error.textContent = t("The upload failed.");
      }
      error.hidden = false;
      button.disabled = false;
    });
  }

  const job = document.getElementById("import-job");
  if (job && job.dataset.state === "running") {
    const bar = document.getElementById("import-progress");
    const text = document.getElementById("import-progress-text");
    const phases = { check: t("Checking rows"), write: t("Writing rows") };

    async function poll() {
      try {
        const response = await fetch(job.dataset.statusUrl, { credentials: "same-origin" });
        if (!response.ok) {
          text.textContent = t("Lost track of the import: refresh the page.");
          return;
        }
        const status = await response.json();
        if (status.state !== "running") {
          window.location.reload();
          return;
        }
        bar.max = Math.max(status.total, 1);
        bar.value = status.done;
        text.textContent = t("%(phase)s: %(done)s of %(total)s", {
          phase: phases[status.phase] || status.phase,
          done: status.done.toLocaleString(),
          total: status.total.toLocaleString(),
        });
      } catch (_failure) {
        text.textContent = t("Lost track of the import: refresh the page.");
        return;
      }
      window.setTimeout(poll, 500);
    }

    poll();
  }
})();
