// Supervisor's live board: a snapshot from /ws/board, then one frame per change.
// Server data is inserted with textContent only (caller names come from the phone network). Numbers
// are a.dial links: crm_cards.js (loaded with this page) dials them from the supervisor's phone.
"use strict";

(function () {
  const root = document.getElementById("board");
  if (!root) {
    return;
  }
  const csrf = root.dataset.csrf;
  const canListen = Boolean(root.dataset.extension);
  const callsBody = document.getElementById("calls");
  const rowTemplate = document.getElementById("call-row");
  const noCalls = document.getElementById("no-calls");
  const callCount = document.getElementById("call-count");
  const extensionsList = document.getElementById("extensions");
  const alerts = document.getElementById("alerts");
  const linkState = document.getElementById("link-state");
  const actionError = document.getElementById("action-error");
  const calls = new Map(); // call_id -> {row, call}
  const extensions = new Map(); // extension -> <li>
  let retryDelay = 1000;
  const t = I18N.t;
  const nt = I18N.nt;
  // States the server sends as codes, shown in the page's language (unknown ones as they come).
  const CALL_STATES = {
    dialing: t("dialing"),
    ringing: t("ringing"),
    talking: t("talking"),
    held: t("on hold"),
    ended: t("ended"),
  };
  const PHONE_STATES = { idle: t("idle"), dialing: t("dialing"), ringing: t("ringing"), talking: t("talking") };

  function setLinkState(state, text) {
    linkState.dataset.state = state;
    linkState.textContent = text;
  }

  function who(party) {
    const label = party.extension ? party.extension : party.number;
    return party.name ? label + " " + party.name : label;
  }

  // A number as the CRM pages show it: a link crm_cards.js turns into click-to-call (tel: without it).
  function dialLink(number, label) {
    const link = document.createElement("a");
    link.className = "dial";
    link.href = "tel:" + number;
    link.dataset.number = number;
    link.title = t("Call %(number)s from my phone", { number: number });
    link.textContent = label;
    return link;
  }

  function caller(party) {
    const number = party.extension || party.number;
    return number ? dialLink(number, who(party)) : document.createTextNode(who(party) || t("unknown"));
  }

  function withWhom(call) {
    const others = call.talking.length ? call.talking : call.ringing;
    const numbers = others.length ? others : call.dialled ? [call.dialled] : [];
    const list = document.createElement("span");
    list.className = "dial-list";
    numbers.forEach(function (number) {
      list.append(dialLink(number, number));
    });
    return list;
  }

  function duration(call) {
    const since = Date.parse(call.answered_at || call.started_at);
    const seconds = Math.max(0, Math.round((Date.now() - since) / 1000));
    const m = Math.floor(seconds / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return m + ":" + s;
  }

  function showCall(call) {
    let entry = calls.get(call.call_id);
    if (!entry) {
      const row = rowTemplate.content.firstElementChild.cloneNode(true);
      row.dataset.callId = call.call_id;
      row.querySelectorAll("button[data-mode]").forEach(function (button) {
        if (!canListen) {
          // Not silently greyed out: the reason is on the button and in the note above the table.
          button.disabled = true;
          button.title = t("You need an extension to listen in");
          button.setAttribute("aria-describedby", "listen-note");
        }
        button.addEventListener("click", function () {
          listenIn(call.call_id, button.dataset.mode);
        });
      });
      callsBody.append(row);
      entry = { row: row, call: call };
      calls.set(call.call_id, entry);
    }
    entry.call = call;
    const row = entry.row;
    row.dataset.state = call.state;
    row.querySelector(".c-caller").replaceChildren(caller(call.caller));
    row.querySelector(".c-with").replaceChildren(withWhom(call));
    let state = CALL_STATES[call.state] || call.state;
    if (call.conference) {
      state = t("%(state)s (conference %(room)s)", { state: state, room: call.conference });
    }
    if (call.recording) {
      state += " ●";
    }
    row.querySelector(".c-state").textContent = state;
    row.querySelector(".c-duration").textContent = duration(call);
    refreshCount();
  }

  function dropCall(callId) {
    const entry = calls.get(callId);
    if (entry) {
      entry.row.remove();
      calls.delete(callId);
    }
    refreshCount();
  }

  function refreshCount() {
    noCalls.hidden = calls.size > 0;
    callCount.textContent = calls.size ? "(" + nt("%(num)s call", "%(num)s calls", calls.size) + ")" : "";
  }

  function showExtension(ext) {
    let item = extensions.get(ext.extension);
    if (!item) {
      item = document.createElement("li");
      item.className = "extension";
      extensions.set(ext.extension, item);
      extensionsList.append(item);
    }
    item.dataset.state = ext.registered ? ext.state : "offline";
    item.dataset.dnd = ext.dnd ? "on" : "off";
    const phone = ext.name ? ext.extension + " " + ext.name : ext.extension;
    const state = ext.registered ? PHONE_STATES[ext.state] || ext.state : t("not registered");
    let text = t("%(phone)s: %(state)s", { phone: phone, state: state });
    if (ext.dnd) {
      text = t("%(phone)s: %(state)s, do not disturb", { phone: phone, state: state });
    }
    item.textContent = text;
  }

  function showAlerts(list) {
    alerts.replaceChildren();
    list.forEach(function (message) {
      const item = document.createElement("li");
      item.className = "alert";
      item.textContent = message;
      alerts.append(item);
    });
  }

  async function listenIn(callId, mode) {
    actionError.hidden = true;
    const status = root.querySelector(".dial-status");
    const response = await fetch("/calls/" + encodeURIComponent(callId) + "/listen", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify({ mode: mode }),
    });
    if (response.ok) {
      status.dataset.state = "ok";
      status.textContent = t("Your phone is ringing: pick it up to listen in");
      status.hidden = false;
      return;
    }
    let message = t("The PBX did not accept the request");
    try {
      message = (await response.json()).message || message;
    } catch (error) {
      // keep the generic message
    }
    actionError.textContent = message;
    actionError.hidden = false;
  }

  function onFrame(frame) {
    if (frame.type === "snapshot") {
      calls.forEach(function (entry) {
        entry.row.remove();
      });
      calls.clear();
      frame.calls.forEach(showCall);
      frame.extensions.forEach(showExtension);
      showAlerts(frame.alerts);
      refreshCount();
    } else if (frame.type === "call") {
      showCall(frame.call);
    } else if (frame.type === "ended") {
      dropCall(frame.call_id);
    } else if (frame.type === "extension") {
      showExtension(frame.extension);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/board");
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      setLinkState("live", t("Live"));
    });
    socket.addEventListener("message", function (event) {
      onFrame(JSON.parse(event.data));
    });
    socket.addEventListener("close", function () {
      setLinkState("down", t("Reconnecting…"));
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  setInterval(function () {
    calls.forEach(function (entry) {
      entry.row.querySelector(".c-duration").textContent = duration(entry.call);
    });
  }, 1000);
  connect();
})();
