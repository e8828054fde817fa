// Replay (回放) progress: resume where this person stopped (kept on the server, so a phone resumes
// too) and report the played ranges every 15 s, on pause/end and when the page is hidden.
const video = document.getElementById("playback");
const api = video && video.dataset.progress;
const status = document.getElementById("replay-status");

function csrf() { const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }

function show(state) {
  if (!status || !state) return;
  status.querySelector("[data-share]").textContent = Math.round(state.share * 100) + "%";
  status.classList.toggle("completed", state.completed);
  status.querySelector("[data-done]").hidden = !state.completed;
}

function played() {
  const out = [];
  for (let i = 0; i < video.played.length; i++) out.push([video.played.start(i), video.played.end(i)]);
  return out;
}

let lastSent = "";
async function report() {
  const body = JSON.stringify({ ranges: played(), position: video.currentTime || 0 });
  if (body === lastSent) return;
  lastSent = body;
  try {
    const r = await fetch(api, { method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body });
    if (r.ok) show(await r.json());
  } catch (e) { /* offline: the next report carries the same ranges */ }
}

if (video && api) {
  fetch(api, { credentials: "same-origin" }).then(r => r.ok ? r.json() : null).then(state => {
    show(state);
    if (!state || !state.position) return;
    const seek = () => { if (state.position < (video.duration || Infinity) - 2) video.currentTime = state.position; };
    if (video.readyState >= 1) seek(); else video.addEventListener("loadedmetadata", seek, { once: true });
  });
  setInterval(() => { if (!video.paused) report(); }, 15000);
  video.addEventListener("pause", report);
  video.addEventListener("ended", report);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") report(); });
  window.addEventListener("pagehide", report);
}
