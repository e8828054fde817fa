// The one live-event connection of a page: /ws/. Every event is re-dispatched on `document`
// as a DOM CustomEvent "yw:event"; on (re)connect a "yw:resync" tells pages to refetch state,
// because pushed events are hints and some may have been missed while disconnected.
const dot = document.getElementById("live-dot");
const liveText = document.getElementById("live-text");
let wasDown = false;
let backTimer = null;

// The live badge says when the live link is down and when it is back (texts from the page).
function showLive(up) {
  if (dot) {
    dot.classList.toggle("on", up);
    dot.classList.toggle("down", !up && wasDown);
    const label = up ? dot.dataset.up : dot.dataset.down;
    if (label) { dot.title = label; dot.setAttribute("aria-label", label); }
  }
  if (!liveText) return;
  clearTimeout(backTimer);
  if (!up && wasDown) {
    liveText.textContent = dot ? dot.dataset.down || "" : "";
    liveText.hidden = false;
  } else if (up && liveText.dataset.shown === "down") {
    liveText.textContent = dot ? dot.dataset.back || "" : "";
    backTimer = setTimeout(() => { liveText.hidden = true; liveText.textContent = ""; }, 5000);
  } else if (up) {
    liveText.hidden = true;
  }
  liveText.dataset.shown = up ? "up" : (wasDown ? "down" : "");
}
const badge = document.getElementById("todo-badge");
let socket = null;
let retry = 500;

async function refreshBadge() {
  if (!badge) return;
  try {
    const res = await fetch("/api/office/todo/count", { credentials: "same-origin" });
    if (!res.ok) return;
    const data = await res.json();
    badge.textContent = String(data.count);
    badge.dataset.count = String(data.count);
    badge.classList.toggle("zero", data.count === 0);
  } catch (e) { /* offline: the next reconnect refetches */ }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/`);
  socket.addEventListener("open", () => {
    retry = 500;
    showLive(true);
    refreshBadge();
    document.dispatchEvent(new CustomEvent("yw:resync"));
  });
  socket.addEventListener("message", (msg) => {
    if (msg.data === "pong") return;
    let event;
    try { event = JSON.parse(msg.data); } catch (e) { return; }
    if (event.type === "hello") return;
    window.ywLastEvent = event;
    refreshBadge();
    document.dispatchEvent(new CustomEvent("yw:event", { detail: event }));
  });
  socket.addEventListener("close", () => {
    wasDown = true;
    showLive(false);
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  });
}

refreshBadge();
connect();
setInterval(() => { if (socket && socket.readyState === 1) socket.send("ping"); }, 25000);
