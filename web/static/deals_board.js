// Deals by stage (templates/sales/board.html): drag a deal's card onto another stage's column.
// Loaded after i18n.js (it uses t()).
//
// The card moves at once; the move is posted to the stage form's own URL (POST /crm/deals/{id}/stage,
// the page's CSRF token in the X-CSRF-Token header, Accept: application/json). A failure stage needs
// the loss reason (the service refuses without it), so dropping there asks for it first in the
// page's dialog; cancelling puts the card back. When the server refuses, the card goes back to
// where it was and its message is shown above the board. After a move the columns' counts and sums
// are read again from the page (the server's figures). The Move select on each card stays the path
// for the keyboard and for browsers without this script.
"use strict";

(function () {
  const t = I18N.t;
  const board = document.querySelector(".deals-board");
  if (!board) {
    return;
  }
  const errorLine = board.querySelector(".board-error");
  const dialog = board.querySelector(".loss-dialog");
  let dragged = null;

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  // Resolves with the reason typed, or null when the user cancels.
  function askReason(card, column) {
    return new Promise(function (resolve) {
      const title = card.querySelector("a").textContent;
      const stage = column.querySelector("h2").textContent;
      dialog.querySelector(".loss-question").textContent = t(
        "Moving %(deal)s to %(stage)s needs the reason the deal was lost.",
        { deal: title, stage: stage },
      );
      const text = dialog.querySelector("textarea");
      text.value = "";
      dialog.addEventListener(
        "close",
        function () {
          const reason = text.value.trim();
          resolve(dialog.returnValue === "ok" && reason ? reason : null);
        },
        { once: true },
      );
      dialog.returnValue = "";
      dialog.showModal();
      text.focus();
    });
  }

  async function post(card, stageId, reason) {
    const body = new FormData();
    body.append("stage_id", stageId);
    if (reason) {
      body.append("loss_reason", reason);
    }
    const response = await fetch(card.querySelector("form.move").action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": board.dataset.csrf },
      body: body,
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch (_error) {
      answer = {};
    }
    return { ok: response.ok, answer: answer, status: response.status };
  }

  // The columns' counts and sums as the server has them now (only the headers are replaced).
  async function refreshTallies() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    board.querySelectorAll(".column").forEach(function (column) {
      const fresh = page.querySelector('.column[data-stage-id="' + column.dataset.stageId + '"]');
      if (fresh) {
        column.dataset.count = fresh.dataset.count;
        column.querySelector(".tally").replaceWith(fresh.querySelector(".tally"));
      }
    });
  }

  async function move(card, column) {
    const from = card.parentElement;
    const next = card.nextElementSibling;
    const stageId = column.dataset.stageId;
    const putBack = function () {
      from.insertBefore(card, next);
    };
    errorLine.hidden = true;
    const list = column.querySelector(".cards");
    list.insertBefore(card, list.querySelector(".card"));
    let reason = null;
    if (column.classList.contains("failure")) {
      reason = await askReason(card, column);
      if (reason === null) {
        putBack();
        return;
      }
    }
    card.classList.add("moving");
    try {
      let result = await post(card, stageId, reason);
      if (!result.ok && result.answer.error === "loss-reason-required") {
        reason = await askReason(card, column);
        result = reason === null ? null : await post(card, stageId, reason);
      }
      if (result === null) {
        putBack();
      } else if (!result.ok) {
        putBack();
        showError(result.answer.message || t("The deal was not moved (error %(status)s).", { status: result.status }));
      } else {
        card.querySelector("form.move select").value = stageId;
        card.dataset.moved = stageId;
        await refreshTallies();
      }
    } catch (_error) {
      putBack();
      showError(t("The deal was not moved: the server cannot be reached."));
    } finally {
      card.classList.remove("moving");
    }
  }

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".card[data-deal]");
    if (!card) {
      return;
    }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  board.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (dragged && column) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      board.querySelectorAll(".column.drop-target").forEach(function (other) {
        other.classList.toggle("drop-target", other === column);
      });
      column.classList.add("drop-target");
    }
  });
  board.addEventListener("dragend", function () {
    dragged = null;
    board.querySelectorAll(".column.drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  });
  board.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    const card = dragged;
    if (!card || !column) {
      return;
    }
    event.preventDefault();
    column.classList.remove("drop-target");
    dragged = null;
    if (column.contains(card)) {
      return;
    }
    move(card, column);
  });
})();
