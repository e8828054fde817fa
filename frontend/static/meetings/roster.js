// The host's live roster (实时名单), a page at a time: searched (debounced), filtered by state with
// the room's counts, paged; refetched on this meeting's events at most every 2 s (a training of
// every village sends an event for each of 3,000 joins), on reconnect and every 30 s (minutes grow).
import { icon } from "./icons.js";
import { debounce, latest, throttle } from "./live-list.js";

const table = document.getElementById("roster");
const body = document.getElementById("roster-body");
const summary = document.getElementById("roster-summary");
const search = document.getElementById("roster-search");
const tools = document.getElementById("roster-tools");
const id = Number(table.dataset.meeting);
const pageSize = Number(tools.dataset.pageSize) || 50;
const MODE = { video: gettext("视频"), small: gettext("低清视频"), audio: gettext("仅音频") };
const query = { q: "", state: "all", page: 1 };
let pages = Number(tools.dataset.pages) || 1;  // as the server rendered the first page
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function csrf() { const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }

async function host(command, target) {
  if (command === "remove" && !confirm(gettext("确定将此人移出会议？"))) return;
  const res = await fetch(`/api/meetings/${id}/host`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify({ command, target }),
  });
  if (!res.ok) { const d = await res.json().catch(() => ({})); alert(d.detail || res.status); }
  refetch();
}

const load = latest(async () => {
  const params = new URLSearchParams({ q: query.q, state: query.state, page: query.page, page_size: pageSize });
  const res = await fetch(`/api/meetings/${id}/roster?${params}`, { credentials: "same-origin" });
  return res.ok ? res.json() : null;
});

function stateLabel(r) {
  return r.online ? gettext("在线") : r.admission === "waiting" ? gettext("等候中") : r.admission === "removed" ? gettext("已移出") : gettext("离开");
}

function button(command, r, label) { return `<button type="button" data-c="${command}" data-t="${r.person_id}">${label}</button>`; }

function row(r) {
  const acts = r.host ? gettext("主持人") : [
    r.admission === "waiting" ? button("admit", r, gettext("准许入会")) : "",
    r.hand ? button("allow_speak", r, gettext("允许发言")) + " " + button("lower_hand", r, gettext("放下")) : "",
    r.online ? button("mute", r, gettext("静音")) + " " + button("stop_video", r, gettext("关视频")) : "",
    r.admission !== "removed" ? button("remove", r, gettext("移出")) : "",
  ].filter(Boolean).join(" ");
  return `<tr data-person="${r.person_id}" class="${r.online ? "online" : ""}"><td>${esc(r.name)}</td><td>${esc(r.unit)}</td>`
    + `<td>${stateLabel(r)}</td><td>${esc(MODE[r.media_mode] || r.media_mode)}</td>`
    + `<td>${r.hand ? icon("hand", table.dataset.handLabel) : ""}</td><td>${r.checked_in ? icon("check", table.dataset.checkedLabel) : ""}</td>`
    + `<td>${esc(r.minutes)}</td><td>${acts}</td></tr>`;
}

function show(data) {
  const c = data.counts;
  summary.textContent = interpolate(gettext("在线 %(n)s 人"), { n: c.online }, true)
    + (c.waiting ? interpolate(gettext("，等候 %(n)s 人"), { n: c.waiting }, true) : "")
    + (c.hands ? interpolate(gettext("，举手 %(n)s 人"), { n: c.hands }, true) : "")
    + (data.locked ? gettext("，已锁定") : "");
  for (const el of tools.querySelectorAll("[data-count]")) el.textContent = c[el.dataset.count] ?? "";
  query.page = data.page;
  pages = data.pages;
  document.getElementById("roster-page").textContent = interpolate(gettext("第 %(page)s / %(pages)s 页"), { page: data.page, pages: data.pages }, true);
  document.getElementById("roster-prev").disabled = data.page <= 1;
  document.getElementById("roster-next").disabled = data.page >= data.pages;
  if (!data.participants.length) {
    const empty = query.q || query.state !== "all" ? gettext("没有符合条件的参会人。") : gettext("还没有人入会。");
    body.innerHTML = `<tr><td colspan="8" class="empty">${empty}</td></tr>`;
    return;
  }
  body.innerHTML = data.participants.map(row).join("");
}

async function refetch() {
  try { const data = await load(); if (data) show(data); } catch (e) { /* offline: the next event or tick retries */ }
}
const soon = throttle(refetch, 2000);

body.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-c]");
  if (b) host(b.dataset.c, Number(b.dataset.t));
});
search.addEventListener("input", debounce(() => { query.q = search.value.trim(); query.page = 1; refetch(); }, 300));
tools.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-state]");
  if (!b) return;
  query.state = b.dataset.state; query.page = 1;
  for (const x of tools.querySelectorAll("button[data-state]")) x.setAttribute("aria-pressed", String(x === b));
  refetch();
});
document.getElementById("roster-prev").addEventListener("click", () => { if (query.page > 1) { query.page -= 1; refetch(); } });
document.getElementById("roster-next").addEventListener("click", () => { if (query.page < pages) { query.page += 1; refetch(); } });
document.addEventListener("yw:event", (e) => { if (e.detail && e.detail.type === "meeting" && e.detail.meeting === id) soon(); });
document.addEventListener("yw:resync", soon);
refetch();
setInterval(soon, 30000); // minutes present keep growing
