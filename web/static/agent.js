// Agent workspace: the screen-pop over /ws/screenpop, the card in depth from /agent/card, call
// control (/calls/...), the unknown caller's form, the after-call note and the call-backs list.
// A call shows only what its state allows (applyState): ringing -> nothing to press (answer or
// decline on the phone: the PBX port has no per-phone decline, and hanging up would end the call for
// a whole ring group); talking at my phone -> hang up, transfer, conference and the one recording
// button that applies; answered elsewhere, transferred away or ended -> no controls, and the
// after-call note when I had the call. Links to CRM cards open in a new tab so the pop survives.
// Everything that comes from the server is inserted with textContent, never innerHTML: caller
// names come from the phone network and can hold anything.
"use strict";

(function () {
  const MAX_CALLS = 10;
  const NOTE_RETRIES = 5; // the call log writes a call a moment after it ends
  const root = document.getElementById("agent");
  const list = document.getElementById("calls");
  const template = document.getElementById("call-template");
  const noCalls = document.getElementById("no-calls");
  const linkState = document.getElementById("link-state");
  const actionError = document.getElementById("action-error");
  const callBackList = document.getElementById("call-back-list");
  const callBackTemplate = document.getElementById("call-back-template");
  const noCallBacks = document.getElementById("no-call-backs");
  const dialForm = document.getElementById("dial-form");
  if (!root || !list || !template) {
    return;
  }
  const myExtension = root.dataset.extension || "";
  const csrf = root.dataset.csrf || "";
  const t = I18N.t;
  // Values the server sends as codes, shown in the page's language (unknown ones as they come).
  const ENTITIES = { contact: t("contact"), company: t("company"), lead: t("lead") };
  const DIRECTIONS = { inbound: t("Incoming call"), outbound: t("Outgoing call"), internal: t("Internal call") };
  const DISPOSITIONS = {
    answered: t("answered"),
    missed: t("missed"),
    busy: t("busy"),
    failed: t("failed"),
    abandoned: t("abandoned"),
  };
  const calls = new Map(); // call_id -> <li>
  let retryDelay = 1000;

  function setLinkState(state, text) {
    linkState.dataset.state = state;
    linkState.textContent = text;
  }

  function localUrl(url) {
    // Only our own pages may be linked (a path, not "//host" or "javascript:").
    return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
  }

  // A CRM link from the pop: a new tab, so the pop and a half-typed note stay where they are.
  function openInNewTab(link, url) {
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
  }

  function part(item, name) {
    return item.querySelector(".call-" + name);
  }

  // On the office's clock (<body data-timezone>), as the server-rendered pages show times.
  function when(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    try {
      return date.toLocaleString(I18N.locale, { timeZone: document.body.dataset.timezone || undefined });
    } catch (error) {
      return date.toLocaleString(I18N.locale); // a zone this browser does not know
    }
  }

  // A phone number anyone can click to call (click-to-call, handled once for the whole page).
  function dialButton(number, text) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "dial";
    button.dataset.number = number;
    button.textContent = text || number;
    button.title = t("Call %(number)s", { number: number });
    return button;
  }

  // --- talking to the server ---------------------------------------------------------------------

  async function send(url, body) {
    // POST JSON with the CSRF token; resolves to {ok, status, data}, data being the server's JSON.
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (_error) {
      return { ok: false, status: 0, data: { message: t("The server cannot be reached") } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (_error) {
      data = {};
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function problem(result) {
    return (result.data && result.data.message) || t("The PBX did not accept the request");
  }

  function showError(message) {
    actionError.textContent = message;
    actionError.hidden = !message;
  }

  async function dial(number) {
    showError("");
    const result = await send("/calls/dial", { number: number });
    if (!result.ok) {
      showError(t("Could not call %(number)s: %(problem)s", { number: number, problem: problem(result) }));
    }
  }

  async function control(item, action, body) {
    const message = part(item, "message");
    message.textContent = "";
    const result = await send("/calls/" + encodeURIComponent(item.dataset.callId) + "/" + action, body);
    message.textContent = result.ok ? t("Request sent to the PBX") : problem(result);
    message.dataset.kind = result.ok ? "ok" : "error";
    return result;
  }

  // --- one call on the page ----------------------------------------------------------------------

  function conferenceRoom(callId) {
    return ("call-" + callId).replace(/[^0-9A-Za-z_-]/g, "-").slice(0, 40);
  }

  function wireControls(item) {
    part(item, "hangup").addEventListener("click", function () {
      control(item, "hangup", {});
    });
    function transfer(announced) {
      const to = part(item, "transfer-to").value.trim();
      if (!to) {
        part(item, "transfer-to").focus();
        return;
      }
      control(item, "transfer", { to: to, announced: announced });
    }
    part(item, "transfer-blind").addEventListener("click", function () {
      transfer(false);
    });
    part(item, "transfer-announced").addEventListener("click", function () {
      transfer(true);
    });
    part(item, "conference-start").addEventListener("click", function () {
      control(item, "conference", { room: conferenceRoom(item.dataset.callId) });
    });
    part(item, "conference-add").addEventListener("click", function () {
      const extension = part(item, "conference-add-ext").value.trim();
      if (!extension) {
        part(item, "conference-add-ext").focus();
        return;
      }
      control(item, "conference", { add: extension });
    });
    part(item, "record-start").addEventListener("click", function () {
      control(item, "recording", { on: true });
    });
    part(item, "record-stop").addEventListener("click", function () {
      control(item, "recording", { on: false });
    });
    item.querySelector(".caller-form").addEventListener("submit", function (event) {
      event.preventDefault();
      saveCaller(item, event.target);
    });
    item.querySelector(".note-form").addEventListener("submit", function (event) {
      event.preventDefault();
      saveNote(item, event.target, 0);
    });
  }

  // Show what the call's state allows; see the header comment.
  function applyState(item) {
    const state = item.dataset.state;
    const mine = state === "mine";
    part(item, "controls").hidden = !mine;
    part(item, "hint").hidden = state !== "ringing";
    const recording = item.dataset.recording === "on";
    const mandatory = item.dataset.recordingMandatory === "yes";
    part(item, "recording-badge").hidden = !recording || state === "ended" || state === "transferred";
    part(item, "record-start").hidden = recording;
    part(item, "record-stop").hidden = !recording || mandatory;
  }

  function showNoteForm(item) {
    if (item.dataset.answered !== "me") {
      return;
    }
    const note = item.querySelector(".note-form");
    if (note.hidden) {
      note.hidden = false;
      note.elements.text.focus();
    }
  }

  function callItem(callId) {
    let item = calls.get(callId);
    if (!item) {
      item = template.content.firstElementChild.cloneNode(true);
      item.dataset.callId = callId;
      wireControls(item);
      calls.set(callId, item);
      list.prepend(item);
      while (list.children.length > MAX_CALLS) {
        const oldest = list.lastElementChild;
        calls.delete(oldest.dataset.callId);
        oldest.remove();
      }
    }
    noCalls.hidden = true;
    return item;
  }

  function showCard(item, frame) {
    const box = part(item, "card");
    box.replaceChildren();
    const card = frame.card;
    if (card) {
      const url = localUrl(card.url);
      const title = document.createElement(url ? "a" : "span");
      if (url) {
        openInNewTab(title, url);
      }
      title.className = "card-title";
      const entity = ENTITIES[card.entity] || card.entity;
      title.textContent = card.title || t("(untitled %(entity)s)", { entity: entity });
      box.append(title);
      const responsible = card.responsible && t("responsible: %(name)s", { name: card.responsible });
      const facts = [entity, card.company, responsible];
      const extra = document.createElement("span");
      extra.className = "card-facts";
      extra.textContent = " " + facts.filter(Boolean).join(" · ");
      box.append(extra);
    } else {
      const label = document.createElement("span");
      label.className = frame.direction === "internal" ? "internal" : "new-caller";
      label.textContent = frame.direction === "internal" ? t("Internal call") : t("New caller");
      box.append(label);
    }
  }

  function fillSection(item, name, entries, render) {
    const section = part(item, name);
    const target = section.querySelector("ul");
    target.replaceChildren();
    entries.forEach(function (entry) {
      const line = document.createElement("li");
      render(line, entry);
      target.append(line);
    });
    section.hidden = entries.length === 0;
  }

  function showDetails(item, card) {
    const facts = part(item, "card");
    facts.querySelectorAll(".card-phones").forEach(function (old) {
      old.remove();
    });
    if (card.phones && card.phones.length) {
      const phones = document.createElement("span");
      phones.className = "card-phones";
      card.phones.forEach(function (phone) {
        phones.append(" ", dialButton(phone.e164 || phone.raw, phone.raw));
      });
      facts.append(phones);
    }
    fillSection(item, "deals", card.deals, function (line, deal) {
      const url = localUrl(deal.url);
      const link = document.createElement(url ? "a" : "span");
      if (url) {
        openInNewTab(link, url);
      }
      link.className = "deal-link";
      link.textContent = t("%(title)s — %(stage)s, %(amount)s %(currency)s", {
        title: deal.title,
        stage: deal.stage,
        amount: deal.amount,
        currency: deal.currency,
      });
      line.append(link);
    });
    fillSection(item, "history", card.calls, function (line, call) {
      const direction = DIRECTIONS[call.direction] || call.direction;
      const disposition = DISPOSITIONS[call.disposition] || call.disposition || "";
      const text = document.createElement("span");
      text.textContent = [when(call.at), direction, disposition].filter(Boolean).join(" · ") + " ";
      line.append(text);
      if (call.number) {
        line.append(dialButton(call.number));
      }
      call.recordings.forEach(function (recording) {
        const url = localUrl(recording.url);
        if (!url) {
          return;
        }
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.preload = "none"; // fetched (and audited) only when the agent presses play
        audio.src = url;
        audio.className = "recording";
        audio.dataset.recordingId = recording.id;
        line.append(audio);
      });
    });
    fillSection(item, "notes", card.notes, function (line, note) {
      line.textContent = when(note.at) + " · " + note.text;
    });
    part(item, "details").hidden = false;
  }

  async function loadDetails(item, card) {
    if (!card || !card.entity) {
      return;
    }
    let response;
    try {
      response = await fetch("/agent/card/" + encodeURIComponent(card.entity) + "/" + encodeURIComponent(card.id), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (_error) {
      return; // the pop itself is shown; the details come with the next call
    }
    if (!response.ok) {
      return; // a card the agent may not open shows as the pop has it
    }
    item.dataset.entity = card.entity;
    item.dataset.cardId = card.id;
    showDetails(item, await response.json());
  }

  async function saveCaller(item, form) {
    const result = await send("/agent/calls/" + encodeURIComponent(item.dataset.callId) + "/caller", {
      name: form.elements.name.value,
      company: form.elements.company.value,
      comment: form.elements.comment.value,
    });
    const message = part(item, "message");
    if (result.ok) {
      message.textContent = t("Saved to the lead “%(title)s”", { title: result.data.title });
      message.dataset.kind = "ok";
      const lead = { entity: "lead", id: result.data.id, title: result.data.title, url: "/crm/lead/" + result.data.id };
      showCard(item, { card: lead });
      loadDetails(item, lead);
    } else {
      message.textContent = problem(result);
      message.dataset.kind = "error";
    }
  }

  async function saveNote(item, form, attempt) {
    const message = part(item, "message");
    const result = await send("/agent/calls/" + encodeURIComponent(item.dataset.callId) + "/note", {
      text: form.elements.text.value,
    });
    if (result.ok) {
      form.hidden = true;
      form.reset();
      message.textContent = t("Note saved");
      message.dataset.kind = "ok";
      if (item.dataset.entity) {
        loadDetails(item, { entity: item.dataset.entity, id: item.dataset.cardId });
      }
      return;
    }
    if (result.data.error_id === "call-not-logged-yet" && item.dataset.state === "transferred") {
      // The call goes on at the colleague's phone: it is logged (and the note saved) when it ends.
      item.dataset.notePending = "1";
      message.textContent = t("The note will be saved when the call ends");
      message.dataset.kind = "ok";
      return;
    }
    if (result.data.error_id === "call-not-logged-yet" && attempt < NOTE_RETRIES) {
      message.textContent = t("Saving…");
      setTimeout(function () {
        saveNote(item, form, attempt + 1);
      }, 1000);
      return;
    }
    message.textContent = problem(result);
    message.dataset.kind = "error";
  }

  // --- frames from the screen-pop hub ------------------------------------------------------------

  function onRinging(frame) {
    const item = callItem(frame.call_id);
    item.dataset.state = "ringing";
    item.dataset.recording = frame.recording ? "on" : "off";
    item.dataset.recordingMandatory = frame.recording_mandatory ? "yes" : "no";
    const number = part(item, "number");
    number.replaceChildren();
    if (frame.number) {
      number.append(dialButton(frame.number));
    } else {
      number.textContent = t("Unknown number");
    }
    part(item, "name").textContent = frame.name || "";
    showCard(item, frame);
    const direction = DIRECTIONS[frame.direction] || frame.direction;
    part(item, "meta").textContent = frame.did
      ? t("%(direction)s to %(number)s", { direction: direction, number: frame.did })
      : direction;
    let status = t("Ringing");
    if (frame.transferred_by) {
      status = t("Transferred to you by %(who)s", { who: frame.transferred_by });
    } else if (frame.picked_up) {
      status = t("Picked up");
    }
    part(item, "status").textContent = status;
    const unknownOutside = !frame.card && frame.direction !== "internal" && Boolean(frame.number);
    item.querySelector(".caller-form").hidden = !unknownOutside;
    applyState(item);
    loadDetails(item, frame.card);
  }

  function onAnswered(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return;
    }
    item.dataset.state = frame.by === myExtension ? "mine" : "elsewhere";
    if (frame.by === myExtension) {
      item.dataset.answered = "me";
    }
    part(item, "status").textContent =
      frame.by === myExtension ? t("Answered by you") : t("Answered by %(who)s", { who: frame.by });
    applyState(item);
  }

  function onRecording(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return;
    }
    item.dataset.recording = frame.on ? "on" : "off";
    item.dataset.recordingMandatory = frame.mandatory ? "yes" : "no";
    applyState(item);
  }

  function onTransferred(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return; // the target's pop comes as a ringing frame
    }
    if (frame.to === myExtension) {
      // It rang here before (a group): now it is handed to me.
      item.dataset.state = "ringing";
      part(item, "status").textContent = t("Transferred to you by %(who)s", { who: frame.by });
      applyState(item);
      return;
    }
    const target = frame.to_name ? frame.to + " (" + frame.to_name + ")" : frame.to;
    part(item, "status").textContent = t("Transferred to %(target)s", { target: target });
    if (item.dataset.state === "mine" || frame.by === myExtension) {
      item.dataset.state = "transferred";
      showNoteForm(item);
    }
    applyState(item);
  }

  function onCallBacks() {
    loadCallBacks();
  }

  function onEnded(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return;
    }
    if (item.dataset.state !== "transferred") {
      // A call I handed on keeps saying where it went.
      const disposition = DISPOSITIONS[frame.disposition] || frame.disposition;
      part(item, "status").textContent = t("Ended (%(disposition)s)", { disposition: disposition });
    }
    item.dataset.state = "ended";
    applyState(item);
    showNoteForm(item);
    if (item.dataset.notePending) {
      delete item.dataset.notePending;
      saveNote(item, item.querySelector(".note-form"), 0);
    }
  }

  function onHello(frame) {
    setLinkState("connected", t("Connected: calls to %(extension)s pop up here.", { extension: frame.extension }));
    loadCallBacks();
  }

  // --- missed calls to call back -----------------------------------------------------------------

  async function loadCallBacks() {
    let response;
    try {
      response = await fetch("/agent/call-backs", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (_error) {
      return;
    }
    if (!response.ok) {
      return;
    }
    const items = (await response.json()).items;
    callBackList.replaceChildren();
    items.forEach(function (task) {
      const line = callBackTemplate.content.firstElementChild.cloneNode(true);
      line.dataset.taskId = task.id;
      const number = line.querySelector(".call-back-number");
      if (task.number) {
        number.dataset.number = task.number;
        number.textContent = t("Call back %(number)s", { number: task.number });
      } else {
        number.remove();
      }
      line.querySelector(".call-back-when").textContent = t("missed %(when)s", { when: when(task.called_at) });
      const link = line.querySelector(".call-back-card");
      const url = task.card && localUrl(task.card.url);
      if (url) {
        openInNewTab(link, url);
        link.textContent = ENTITIES[task.card.entity] || task.card.entity;
      } else {
        link.remove();
      }
      line.querySelector(".call-back-done").addEventListener("click", async function () {
        const result = await send("/agent/call-backs/" + encodeURIComponent(task.id) + "/done", {});
        if (result.ok) {
          line.remove();
          noCallBacks.hidden = callBackList.children.length > 0;
        } else {
          showError(problem(result));
        }
      });
      callBackList.append(line);
    });
    noCallBacks.hidden = items.length > 0;
  }

  // --- the page ----------------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.dial");
    if (button && button.dataset.number) {
      dial(button.dataset.number);
    }
  });

  dialForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const number = dialForm.elements.number.value.trim();
    if (number) {
      dial(number);
    }
  });

  const handlers = {
    hello: onHello,
    ringing: onRinging,
    answered: onAnswered,
    recording: onRecording,
    transferred: onTransferred,
    ended: onEnded,
    "call-backs": onCallBacks,
  };

  async function stillLoggedIn() {
    try {
      const response = await fetch("/agent", { redirect: "manual", credentials: "same-origin" });
      return response.type !== "opaqueredirect" && response.status !== 401;
    } catch (_error) {
      return true; // the server is down, not our session: keep retrying
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/ws/screenpop");
    let opened = false;
    socket.addEventListener("open", function () {
      opened = true;
      retryDelay = 1000;
    });
    socket.addEventListener("message", function (event) {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_error) {
        return;
      }
      const handler = handlers[frame.type];
      if (handler) {
        handler(frame);
      }
    });
    socket.addEventListener("close", async function (event) {
      if (event.code === 1008 || (!opened && !(await stillLoggedIn()))) {
        location.assign("/login?next=" + encodeURIComponent("/agent"));
        return;
      }
      setLinkState("disconnected", t("Disconnected, reconnecting…"));
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  connect();
})();
