// CRM card pages: click-to-call on every phone link, a waveform under each recording's player, and
// a confirmation before deleting or merging cards. Loaded after i18n.js (it uses t()).
//
// - a.dial[data-number]: POST /calls/dial {"number"} with the page's CSRF token (data-csrf on the
//   section) in the X-CSRF-Token header; the agent's own phone rings first, then the number. The
//   link's href stays tel:, so without this script (or on a phone) the number is still a link.
// - canvas.waveform[data-peaks]: the recording's peaks (audiowaveform JSON: interleaved min, max)
//   drawn as bars, the played part darker; a click seeks the <audio> beside it there and plays.
// - form[data-confirm]: asks first; no means nothing is sent.
"use strict";

(function () {
  const t = I18N.t;
  const PLAYED = "#1d4ed8";
  const UNPLAYED = "#98a2b3";

  function csrfToken() {
    const holder = document.querySelector("[data-csrf]");
    return holder ? holder.dataset.csrf : "";
  }

  function statusLine() {
    let line = document.querySelector(".dial-status");
    if (!line) {
      line = document.createElement("p");
      line.className = "dial-status";
      line.setAttribute("role", "status");
      const section = document.querySelector(".crm") || document.body;
      section.insertBefore(line, section.firstChild);
    }
    line.hidden = false;
    return line;
  }

  async function dial(number) {
    const line = statusLine();
    line.dataset.state = "calling";
    line.textContent = t("Calling %(number)s: pick up your phone…", { number: number });
    try {
      const response = await fetch("/calls/dial", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": csrfToken(),
        },
        body: JSON.stringify({ number: number }),
      });
      if (response.ok) {
        line.dataset.state = "ok";
        line.textContent = t("Your phone is ringing: pick it up to call %(number)s", { number: number });
        return;
      }
      let message = "";
      try {
        message = (await response.json()).message || "";
      } catch (_error) {
        message = "";
      }
      line.dataset.state = "error";
      line.textContent = message || t("The call could not be placed (error %(status)s)", { status: response.status });
    } catch (_error) {
      line.dataset.state = "error";
      line.textContent = t("The server cannot be reached: the call was not placed");
    }
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.dial[data-number]");
    if (!link) {
      return;
    }
    event.preventDefault();
    dial(link.dataset.number);
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  function draw(canvas, peaks, played) {
    const context = canvas.getContext("2d");
    const data = peaks.data || [];
    const pairs = Math.floor(data.length / 2);
    const width = canvas.width;
    const height = canvas.height;
    const middle = height / 2;
    const range = Math.pow(2, (peaks.bits || 8) - 1);
    context.clearRect(0, 0, width, height);
    if (!pairs) {
      return;
    }
    const step = width / pairs;
    for (let i = 0; i < pairs; i += 1) {
      const low = data[2 * i] / range;
      const high = data[2 * i + 1] / range;
      const x = i * step;
      context.fillStyle = x / width < played ? PLAYED : UNPLAYED;
      const top = middle - high * middle;
      const bar = Math.max(1, (high - low) * middle);
      context.fillRect(x, top, Math.max(1, step - 0.5), bar);
    }
  }

  async function waveform(canvas) {
    const box = canvas.closest(".recording");
    const audio = box ? box.querySelector("audio") : null;
    let peaks;
    try {
      const response = await fetch(canvas.dataset.peaks, { credentials: "same-origin" });
      if (!response.ok) {
        canvas.hidden = true; // no waveform (not computed yet, or not ours): the player still plays
        return;
      }
      peaks = await response.json();
    } catch (_error) {
      canvas.hidden = true;
      return;
    }
    const fraction = function () {
      return audio && audio.duration ? audio.currentTime / audio.duration : 0;
    };
    draw(canvas, peaks, 0);
    canvas.dataset.drawn = String(Math.floor((peaks.data || []).length / 2));
    if (!audio) {
      return;
    }
    audio.addEventListener("timeupdate", function () {
      draw(canvas, peaks, fraction());
    });
    canvas.addEventListener("click", function (event) {
      const duration = audio.duration || peaks.duration_s || 0;
      if (!duration) {
        return;
      }
      const rect = canvas.getBoundingClientRect();
      audio.currentTime = ((event.clientX - rect.left) / rect.width) * duration;
      audio.play().catch(function () {
        /* the browser may refuse autoplay; the player's own button still works */
      });
    });
  }

  document.querySelectorAll("canvas.waveform[data-peaks]").forEach(waveform);
})();
