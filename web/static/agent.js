// Agent screen-pop: listens on /ws/screenpop and shows who is calling, with their CRM card.
// Everything that comes from the server is inserted with textContent, never innerHTML: caller
// names come from the phone network and can hold anything.
"use strict";

(function () {
  const MAX_CALLS = 10;
  const root = document.getElementById("agent");
  const list = document.getElementById("calls");
  const template = document.getElementById("call-template");
  const noCalls = document.getElementById("no-calls");
  const linkState = document.getElementById("link-state");
  if (!root || !list || !template) {
    return;
  }
  const myExtension = root.dataset.extension || "";
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

  function part(item, name) {
    return item.querySelector(".call-" + name);
  }

  function callItem(callId) {
    let item = calls.get(callId);
    if (!item) {
      item = template.content.firstElementChild.cloneNode(true);
      item.dataset.callId = callId;
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
        title.href = url;
      }
      title.className = "card-title";
      title.textContent = card.title || "(untitled " + card.entity + ")";
      box.append(title);
      const facts = [card.entity, card.company, card.responsible && "responsible: " + card.responsible];
      const extra = document.createElement("span");
      extra.className = "card-facts";
      extra.textContent = " " + facts.filter(Boolean).join(" · ");
      box.append(extra);
    } else {
      const label = document.createElement("span");
      label.className = frame.direction === "internal" ? "internal" : "new-caller";
      label.textContent = frame.direction === "internal" ? "Internal call" : "New caller";
      box.append(label);
    }
  }

  function onRinging(frame) {
    const item = callItem(frame.call_id);
    item.dataset.state = "ringing";
    part(item, "number").textContent = frame.number || "Unknown number";
    part(item, "name").textContent = frame.name || "";
    showCard(item, frame);
    const meta = [frame.direction];
    if (frame.did) {
      meta.push("to " + frame.did);
    }
    part(item, "meta").textContent = meta.join(" ");
    let status = "Ringing";
    if (frame.transferred_by) {
      status = "Transferred to you by " + frame.transferred_by;
    } else if (frame.picked_up) {
      status = "Picked up";
    }
    part(item, "status").textContent = status;
  }

  function onAnswered(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return;
    }
    item.dataset.state = frame.by === myExtension ? "mine" : "elsewhere";
    part(item, "status").textContent = frame.by === myExtension ? "Answered by you" : "Answered by " + frame.by;
  }

  function onEnded(frame) {
    const item = calls.get(frame.call_id);
    if (!item) {
      return;
    }
    item.dataset.state = "ended";
    part(item, "status").textContent = "Ended (" + frame.disposition + ")";
  }

  function onHello(frame) {
    setLinkState("connected", "Connected: calls to " + frame.extension + " pop up here.");
  }

  const handlers = { hello: onHello, ringing: onRinging, answered: onAnswered, ended: onEnded };

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
      setLinkState("disconnected", "Disconnected, reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  connect();
})();
