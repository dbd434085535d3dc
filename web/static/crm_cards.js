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

// The activity form under a timeline (form.activity-form, see templates/crm/_activity_form.html):
// - the "Also on" search: the .bind-picker is shown, what is typed is looked up in the REST lists
//   (contacts by name__contains, companies, leads and deals by title__contains, with the session
//   cookie) and a click on a found card adds it as a hidden bind=kind:id with a Remove button.
//   Without this script the form offers the linked cards as ticks only.
// - the direction select shows for a call only.
(function () {
  const t = I18N.t;
  const FOUND = 8;
  const LISTS = {
    contact: { path: "/api/v1/contacts", field: "name" },
    company: { path: "/api/v1/companies", field: "title" },
    lead: { path: "/api/v1/leads", field: "title" },
    deal: { path: "/api/v1/deals", field: "title" },
  };

  function cardUrl(kind, id) {
    return kind === "deal" ? "/crm/deals/" + id : "/crm/" + kind + "/" + id;
  }

  function picker(form) {
    const box = form.querySelector(".bind-picker");
    const chosen = form.querySelector(".bind-chosen");
    if (!box || !chosen) {
      return;
    }
    const kinds = box.querySelector(".bind-kind");
    const query = box.querySelector(".bind-query");
    const results = box.querySelector(".bind-results");
    let waiting = null;
    let asked = 0;

    function taken() {
      const values = new Set([form.dataset.owner]);
      form.querySelectorAll("input[name='bind']").forEach(function (input) {
        values.add(input.value);
      });
      return values;
    }

    function say(text) {
      const line = document.createElement("li");
      line.className = "muted";
      line.textContent = text;
      results.replaceChildren(line);
    }

    function add(kind, id, title) {
      const value = kind + ":" + id;
      const item = document.createElement("li");
      item.className = "bind-chosen-item";
      item.dataset.bind = value;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "bind";
      input.value = value;
      const word = document.createElement("span");
      word.className = "muted";
      word.textContent = kinds.querySelector("option[value='" + kind + "']").textContent;
      const link = document.createElement("a");
      link.href = cardUrl(kind, id);
      link.textContent = title;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "bind-remove link-button";
      remove.textContent = t("Remove");
      remove.setAttribute("aria-label", t("Remove %(title)s", { title: title }));
      item.append(input, word, " ", link, " ", remove);
      chosen.appendChild(item);
      results.replaceChildren();
      query.value = "";
      query.focus();
    }

    async function search() {
      const text = query.value.trim();
      const kind = kinds.value;
      const list = LISTS[kind];
      asked += 1;
      const mine = asked;
      if (text.length < 2 || !list) {
        results.replaceChildren();
        return;
      }
      const url = list.path + "?" + list.field + "__contains=" + encodeURIComponent(text) + "&limit=" + FOUND;
      let items;
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (mine !== asked) {
          return; // a newer search is on its way
        }
        if (!response.ok) {
          say(t("The search failed (error %(status)s)", { status: response.status }));
          return;
        }
        items = (await response.json()).items || [];
      } catch (_error) {
        say(t("The server cannot be reached: try again"));
        return;
      }
      if (mine !== asked) {
        return;
      }
      const skip = taken();
      const found = items.filter(function (item) {
        return !skip.has(kind + ":" + item.id);
      });
      if (!found.length) {
        say(t("No card found"));
        return;
      }
      results.replaceChildren(
        ...found.map(function (item) {
          const line = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "bind-found link-button";
          button.dataset.bind = kind + ":" + item.id;
          button.textContent = item[list.field];
          button.addEventListener("click", function () {
            add(kind, item.id, item[list.field]);
          });
          line.appendChild(button);
          return line;
        })
      );
    }

    chosen.addEventListener("click", function (event) {
      const remove = event.target.closest(".bind-remove");
      if (remove) {
        remove.closest("li").remove();
      }
    });
    query.addEventListener("input", function () {
      clearTimeout(waiting);
      waiting = setTimeout(search, 250); // search once typing pauses, not on every key
    });
    query.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // Enter searches; it does not send the half-filled form
        clearTimeout(waiting);
        search();
      }
    });
    kinds.addEventListener("change", search);
    box.hidden = false;
  }

  function direction(form) {
    const kind = form.querySelector("select[name='kind']");
    const field = form.querySelector(".activity-direction");
    if (!kind || !field) {
      return;
    }
    const show = function () {
      field.hidden = kind.value !== "call";
    };
    kind.addEventListener("change", show);
    show();
  }

  document.querySelectorAll("form.activity-form").forEach(function (form) {
    picker(form);
    direction(form);
  });
})();
