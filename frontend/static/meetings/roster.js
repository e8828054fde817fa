// The host's live roster: refetched on every event about this meeting (and on reconnect).
const table = document.getElementById("roster");
const body = document.getElementById("roster-body");
const summary = document.getElementById("roster-summary");
const id = Number(table.dataset.meeting);
const MODE = { video: gettext("视频"), small: gettext("低清视频"), audio: gettext("仅音频") };
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function csrf() { const m = document.cookie.match(/csrftoken=([^;]+)/); return m ? m[1] : ""; }

async function host(command, target) {
  const res = await fetch(`/api/meetings/${id}/host`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify({ command, target }),
  });
  if (!res.ok) { const d = await res.json().catch(() => ({})); alert(d.detail || res.status); }
  refetch();
}

async function refetch() {
  const res = await fetch(`/api/meetings/${id}/roster`, { credentials: "same-origin" });
  if (!res.ok) return;
  const data = await res.json();
  summary.textContent = interpolate(gettext("在线 %(n)s 人"), { n: data.online }, true)
    + (data.waiting ? interpolate(gettext("，等候 %(n)s 人"), { n: data.waiting }, true) : "")
    + (data.locked ? gettext("，已锁定") : "");
  if (!data.participants.length) { body.innerHTML = '<tr><td colspan="7" class="empty">' + gettext("还没有人入会。") + '</td></tr>'; return; }
  body.innerHTML = data.participants.map((r) => {
    const state = r.online ? gettext("在线") : r.admission === "waiting" ? gettext("等候中") : r.admission === "removed" ? gettext("已移出") : gettext("离开");
    const acts = r.host ? gettext("主持人") : [
      r.admission === "waiting" ? `<button data-c="admit" data-t="${r.person_id}">${gettext("准许入会")}</button>` : "",
      r.online ? `<button data-c="mute" data-t="${r.person_id}">${gettext("静音")}</button><button data-c="stop_video" data-t="${r.person_id}">${gettext("关视频")}</button>` : "",
      r.hand ? `<button data-c="lower_hand" data-t="${r.person_id}">${gettext("放下手")}</button>` : "",
      r.admission !== "removed" ? `<button data-c="remove" data-t="${r.person_id}">${gettext("移出")}</button>` : "",
    ].join(" ");
    return `<tr data-person="${r.person_id}" class="${r.online ? "online" : ""}"><td>${esc(r.name)}</td><td>${state}</td><td>${MODE[r.media_mode] || esc(r.media_mode)}</td><td>${r.hand ? "✋" : ""}</td><td>${r.checked_in ? "✔" : ""}</td><td>${r.minutes}</td><td>${acts}</td></tr>`;
  }).join("");
  body.querySelectorAll("button[data-c]").forEach((b) => b.addEventListener("click", () => host(b.dataset.c, Number(b.dataset.t))));
}
document.addEventListener("yw:event", (e) => { if (e.detail && e.detail.type === "meeting" && e.detail.meeting === id) refetch(); });
document.addEventListener("yw:resync", refetch);
refetch();
setInterval(refetch, 30000); // minutes present keep growing
