// Dialplan editor: line numbers, validate (issues marked at their lines), diff, explain, apply.
// Everything from the server goes in with textContent, never innerHTML. Every POST carries the
// session's CSRF token in X-CSRF-Token.
"use strict";

(function () {
  const root = document.getElementById("dialplan");
  const text = document.getElementById("plan-text");
  const gutter = document.getElementById("gutter");
  if (!root || !text || !gutter) {
    return;
  }
  const csrf = root.dataset.csrf || "";
  let baseSha = root.dataset.sha || "";
  const status = document.getElementById("status");
  const issueList = document.getElementById("issues");
  const diffOut = document.getElementById("diff-out");
  const comment = document.getElementById("comment");
  const explainForm = document.getElementById("explain-form");
  const explainOut = document.getElementById("explain-out");
  let marks = new Map(); // line number -> {severity, messages}
  let lineCount = 0;
  const t = I18N.t;
  const nt = I18N.nt;

  // Line numbers ---------------------------------------------------------------------------

  function renderGutter() {
    lineCount = text.value.split("\n").length;
    const fragment = document.createDocumentFragment();
    for (let line = 1; line <= lineCount; line++) {
      const number = document.createElement("span");
      number.textContent = String(line);
      const mark = marks.get(line);
      if (mark) {
        number.className = mark.severity;
        number.title = mark.messages.join("\n");
      }
      fragment.appendChild(number);
    }
    gutter.replaceChildren(fragment);
    gutter.scrollTop = text.scrollTop;
  }

  text.addEventListener("input", function () {
    if (text.value.split("\n").length !== lineCount) {
      renderGutter();
    }
  });
  text.addEventListener("scroll", function () {
    gutter.scrollTop = text.scrollTop;
  });
  text.addEventListener("keydown", function (event) {
    // Tab indents with two spaces (YAML has no tabs) instead of leaving the editor.
    if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      text.setRangeText("  ", text.selectionStart, text.selectionEnd, "end");
      text.dispatchEvent(new Event("input"));
    }
  });

  function goToLine(line, column) {
    const lines = text.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) {
      start += lines[i].length + 1;
    }
    const length = (lines[line - 1] || "").length;
    text.focus();
    text.setSelectionRange(start + Math.min(Math.max(column - 1, 0), length), start + length);
    const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 20;
    text.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  // Talking to the server ------------------------------------------------------------------

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": csrf,
        },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { status: 0, data: { message: t("The server did not answer: %(error)s", { error: error }) } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = { message: t("Unexpected answer (HTTP %(status)s)", { status: response.status }) };
    }
    if (response.status === 401) {
      data.message = t("Your session has ended: log in again (copy your text first).");
    }
    return { status: response.status, data: data };
  }

  function say(message, kind) {
    status.textContent = message || "";
    status.dataset.kind = kind || "info";
  }

  function showIssues(issues) {
    marks = new Map();
    issueList.replaceChildren();
    for (const issue of issues || []) {
      const line = Number(issue.line) || 1;
      const mark = marks.get(line) || { severity: "warning", messages: [] };
      if (issue.severity !== "warning") {
        mark.severity = "error";
      }
      mark.messages.push(String(issue.message));
      marks.set(line, mark);
      const item = document.createElement("li");
      item.className = issue.severity === "warning" ? "warning" : "error";
      const jump = document.createElement("button");
      jump.type = "button";
      jump.className = "link";
      jump.textContent = t("line %(line)s", { line: line });
      jump.addEventListener("click", function () {
        goToLine(line, Number(issue.column) || 1);
      });
      item.appendChild(jump);
      item.appendChild(document.createTextNode(" " + String(issue.text || issue.message)));
      issueList.appendChild(item);
    }
    renderGutter();
  }

  function hideDiff() {
    diffOut.hidden = true;
    diffOut.replaceChildren();
  }

  function showDiff(diff) {
    diffOut.replaceChildren();
    for (const line of diff.split("\n")) {
      const row = document.createElement("span");
      if (line.startsWith("+") && !line.startsWith("+++")) {
        row.className = "added";
      } else if (line.startsWith("-") && !line.startsWith("---")) {
        row.className = "removed";
      } else if (line.startsWith("@@")) {
        row.className = "hunk";
      }
      row.textContent = line + "\n";
      diffOut.appendChild(row);
    }
    diffOut.hidden = false;
  }

  // Buttons --------------------------------------------------------------------------------

  document.getElementById("validate").addEventListener("click", async function () {
    say(t("Validating…"));
    const { status: code, data } = await post("/admin/dialplan/validate", { text: text.value });
    if (code !== 200) {
      say(data.message || t("Validation failed (HTTP %(status)s)", { status: code }), "error");
      return;
    }
    showIssues(data.issues);
    const warnings = (data.issues || []).filter((issue) => issue.severity === "warning").length;
    if (data.valid) {
      const text = warnings ? nt("Valid, with %(num)s warning.", "Valid, with %(num)s warnings.", warnings) : t("Valid.");
      say(text, warnings ? "warning" : "ok");
    } else {
      const errors = data.issues.length - warnings;
      say(nt("Not valid: %(num)s error.", "Not valid: %(num)s errors.", errors), "error");
    }
  });

  document.getElementById("diff").addEventListener("click", async function () {
    const { status: code, data } = await post("/admin/dialplan/diff", { text: text.value });
    if (code !== 200) {
      say(data.message || t("Diff failed (HTTP %(status)s)", { status: code }), "error");
      return;
    }
    if (!data.changed) {
      hideDiff();
      say(t("No changes against the running plan."), "ok");
      return;
    }
    showDiff(data.diff);
    say(
      data.running_version == null
        ? t("Changes against the running plan (not in the history yet):")
        : t("Changes against the running plan (version %(version)s):", { version: data.running_version }),
    );
  });

  document.getElementById("apply").addEventListener("click", async function () {
    if (!window.confirm(t("Apply this dialplan now? Calls from now on follow it."))) {
      return;
    }
    say(t("Applying…"));
    const { status: code, data } = await post("/admin/dialplan/apply", {
      text: text.value,
      comment: comment.value,
      base_sha: baseSha,
    });
    if (code === 200) {
      baseSha = data.sha256;
      showIssues(data.warnings);
      hideDiff();
      comment.value = "";
      say(data.message, "ok");
    } else if (code === 422) {
      showIssues(data.issues);
      say(data.message, "error");
    } else if (code === 409) {
      say(t("%(message)s (reload the page to start from it; copy your text first)", { message: data.message }), "error");
    } else {
      say(data.message || t("Apply failed (HTTP %(status)s)", { status: code }), "error");
    }
  });

  explainForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const form = new FormData(explainForm);
    const body = {
      from: String(form.get("from") || ""),
      to: String(form.get("to") || ""),
      at: String(form.get("at") || ""),
      trunk: String(form.get("trunk") || ""),
    };
    if (form.get("edited")) {
      body.text = text.value;
    }
    const { status: code, data } = await post("/admin/dialplan/explain", body);
    explainOut.replaceChildren();
    if (code === 422) {
      showIssues(data.issues);
    }
    const lines = code === 200 ? data.lines : [data.message || t("Explain failed (HTTP %(status)s)", { status: code })];
    for (const line of lines) {
      const item = document.createElement("li");
      item.textContent = String(line);
      explainOut.appendChild(item);
    }
  });

  renderGutter();
})();
