// The room page's own parts (not media): chat over HTTP + live events, check-in (签到), the
// waiting room, the participant list with the host's per-person menu, and the host menu's
// commands. Media (camera, microphone, screen, tiles, audio-only) is room.js, the SFU's client.
const cfg = JSON.parse(document.getElementById("room-config").textContent);
const API = cfg.api; // "/api/meetings/<id>/"
const me = cfg.person;
document.body.classList.add("in-room");

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function csrf() { const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }
const $ = (id) => document.getElementById(id);

export async function api(path, method = "GET", body = undefined) {
  const res = await fetch(API + path, {
    method, credentials: "same-origin",
    headers: body === undefined ? { "X-CSRFToken": csrf() } : { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) { const err = new Error(data.detail || `HTTP ${res.status}`); err.status = res.status; err.code = data.code; throw err; }
  return data;
}

function banner(text, kind = "") {
  const el = $("room-banner");
  if (!el) { $("room-status").textContent = text; return; }
  el.textContent = text;
  el.className = `banner ${kind}`;
  el.hidden = !text;
}

// ---------------------------------------------------------------- chat
let lastChat = 0;
const chatLog = $("chat-log");
let chatBusy = Promise.resolve();
function fetchChat() {  // one fetch at a time, so a message is never shown twice
  chatBusy = chatBusy.then(fetchChatNow, fetchChatNow);
  return chatBusy;
}
async function fetchChatNow() {
  let rows = [];
  try { rows = await api(`chat?after=${lastChat}`); } catch (e) { return; }
  for (const m of rows) {
    if (m.id <= lastChat || chatLog.querySelector(`li[data-id="${m.id}"]`)) continue;
    lastChat = Math.max(lastChat, m.id);
    const li = document.createElement("li");
    li.dataset.id = m.id;
    const t = new Date(m.at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    li.innerHTML = `<span class="who">${esc(m.name)}</span><span class="muted">${esc(t)}</span> <span class="text">${esc(m.text)}</span>`;
    chatLog.appendChild(li);
  }
  if (rows.length) chatLog.scrollTop = chatLog.scrollHeight;
}
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value;
  $("chat-error").textContent = "";
  try {
    await api("chat", "POST", { text });
    input.value = "";
    fetchChat();
  } catch (err) {
    $("chat-error").textContent = err.message;
  }
});

// ---------------------------------------------------------------- check-in (签到)
async function refreshCheckin() {
  const el = $("checkin-banner");
  if (!el) return;
  try {
    const st = await api("checkin");
    el.hidden = !(st.open && !st.checked_in);
  } catch (e) { el.hidden = true; }
}
const checkinBtn = $("btn-checkin");
if (checkinBtn) checkinBtn.addEventListener("click", async () => {
  try { await api("checkin", "POST"); banner(gettext("签到成功。"), "ok"); setTimeout(() => banner(""), 3000); } catch (e) { banner(e.message); }
  refreshCheckin();
});

// ---------------------------------------------------------------- participants
const list = $("participant-list");
async function refreshParticipants() {
  if (!list || cfg.waiting) return;
  let rows;
  let waiting = [];
  try {
    if (cfg.is_host) {
      // hosts see the waiting room too (from the live roster), with 准许入会
      const roster = await api("roster");
      rows = roster.participants.filter((p) => p.online);
      waiting = roster.participants.filter((p) => p.admission === "waiting");
    } else {
      rows = await api("participants");
    }
  } catch (e) { return; }
  $("participant-count").textContent = `(${rows.length})`;
  const waitingHtml = waiting.map((p) => `<li data-person="${p.person_id}" class="waiting"><span class="pname">${esc(p.name)} <span class="tag warn">${gettext("等候中")}</span></span>
      <span class="person-actions"><button class="host-menu-btn" data-command="admit" data-target="${p.person_id}">${gettext("准许入会")}</button></span></li>`).join("");
  list.innerHTML = waitingHtml + rows.map((p) => {
    const tags = [p.host ? gettext("主持人") : "", p.presenter ? gettext("主讲") : "", p.media_mode === "audio" ? gettext("仅音频") : p.media_mode === "small" ? gettext("低清视频") : "", p.hand ? HAND : ""]
      .filter(Boolean).map((t) => `<span class="tag">${t}</span>`).join(" ");
    const menu = cfg.is_host && p.person_id !== me ? `<span class="person-actions">
        <button class="host-menu-btn" data-command="mute" data-target="${p.person_id}" title="${gettext("静音")}">${gettext("静音")}</button>
        <button class="host-menu-btn" data-command="stop_video" data-target="${p.person_id}" title="${gettext("关闭视频")}">${gettext("关视频")}</button>
        <button class="host-menu-btn" data-command="present" data-target="${p.person_id}" title="${gettext("设为主讲")}">${gettext("主讲")}</button>
        ${p.hand ? `<button class="host-menu-btn" data-command="lower_hand" data-target="${p.person_id}">${gettext("放下手")}</button>` : ""}
        ${p.host ? "" : `<button class="host-menu-btn danger" data-command="remove" data-target="${p.person_id}" title="${gettext("移出会议")}">${gettext("移出")}</button>`}
      </span>` : "";
    return `<li data-person="${p.person_id}"><span class="pname">${esc(p.name)} ${tags}</span>${menu}</li>`;
  }).join("");
}
list && list.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-command]");
  if (b) hostCommand(b.dataset.command, Number(b.dataset.target));
});

// A raised hand as an SVG icon (an emoji shows as a box on machines without an emoji font).
const HAND = `<svg class="icon" viewBox="0 0 24 24" width="14" height="14" role="img" aria-label="${gettext("举手")}"><path fill="currentColor" d="M12 2a1.5 1.5 0 0 1 1.5 1.5V11h1V4.5a1.5 1.5 0 0 1 3 0V12h1V7.5a1.5 1.5 0 0 1 3 0V15c0 4-3 7-7 7h-1.2a7 7 0 0 1-5.6-2.8l-4-5.3a1.5 1.5 0 0 1 2.3-1.9L7 14V5.5a1.5 1.5 0 0 1 3 0V11h.5V3.5A1.5 1.5 0 0 1 12 2z"/></svg>`;

// ---------------------------------------------------------------- host menu
export async function hostCommand(command, target = null) {
  if (command === "end" && !confirm(gettext("确定为所有人结束会议？"))) return;
  if (command === "remove" && !confirm(gettext("确定将此人移出会议？"))) return;
  try {
    const out = await api("host", "POST", { command, target });
    if (command === "record_start" || command === "record_stop") {
      $("recording-indicator").hidden = command === "record_stop" || (out.room && out.room.ok === false);
      if (out.room && out.room.ok === false) banner(gettext("录制未能开始：会议室尚无媒体连接。"));
    }
    if (command === "lock") banner(gettext("会议已锁定，新成员不能加入。"));
    if (command === "unlock") banner("");
  } catch (e) { banner(e.message); }
  refreshParticipants();
}
const menuBtn = $("btn-host-menu");
if (menuBtn) {
  menuBtn.addEventListener("click", () => {
    const l = $("host-menu-list");
    l.hidden = !l.hidden;
    menuBtn.setAttribute("aria-expanded", String(!l.hidden));
  });
  $("host-menu-list").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-command]");
    if (b) hostCommand(b.dataset.command);
  });
  $("btn-checkin-start").addEventListener("click", async () => {
    try { await api("checkin/start", "POST", { minutes: 5 }); banner(gettext("已发起签到（5分钟）。")); } catch (e) { banner(e.message); }
  });
}

// ---------------------------------------------------------------- raise hand (HTTP; the roster updates by event)
let handUp = false;
const handBtn = $("btn-hand");
if (handBtn) handBtn.addEventListener("click", async () => {
  try {
    await api("hand", "POST", { up: !handUp });
    handUp = !handUp;
    handBtn.setAttribute("aria-pressed", String(handUp));
    handBtn.textContent = handUp ? gettext("放下手") : gettext("举手");
  } catch (e) { banner(e.message); }
});

// ---------------------------------------------------------------- live events
function ended() {
  banner(gettext("会议已结束。"), "ended");
  $("room-status").textContent = gettext("会议已结束");
  document.querySelectorAll("#room-controls button").forEach((b) => { if (b.id !== "btn-leave") b.disabled = true; });
  $("chat-input").disabled = true;
  window.dispatchEvent(new CustomEvent("yw:meeting-ended", { detail: { meeting: cfg.meeting } }));
}
document.addEventListener("yw:event", (e) => {
  const ev = e.detail || {};
  if (ev.type !== "meeting" || ev.meeting !== cfg.meeting) return;
  if (ev.op === "chat") fetchChat();
  else if (ev.op === "checkin") refreshCheckin();
  else if (ev.op === "hand" || ev.op === "roster") refreshParticipants();
  else if (ev.op === "recording") banner(gettext("录制已保存，可在会议详情页回放。"));
  else if (ev.op === "cancelled") ended();
  else if (ev.op === "host") {
    if (ev.command === "end") { ended(); return; }
    if (ev.command === "admit" && ev.target === me && cfg.waiting) { location.reload(); return; }
    if (ev.command === "remove" && ev.target === me) { banner(gettext("您已被主持人移出会议。")); return; }
    if ((ev.command === "mute" && ev.target === me) || ev.command === "mute_all") {
      if (ev.command === "mute" || !cfg.is_host) banner(gettext("主持人已将您静音。"));
    }
    if (ev.command === "stop_video" && ev.target === me) banner(gettext("主持人关闭了您的视频。"));
    if (ev.command === "present") banner(ev.target === me ? gettext("您已成为主讲人。") : gettext("主讲人已变更。"));
    if (ev.command === "lock" && !cfg.is_host) banner(gettext("主持人已锁定会议。"));
    refreshParticipants();
  }
});
document.addEventListener("yw:resync", () => { fetchChat(); refreshCheckin(); refreshParticipants(); });
// room.js passes on the SFU's roster whenever someone comes or goes: refetch ours (debounced).
let rosterTimer = null;
document.addEventListener("yw:room-participants", () => {
  clearTimeout(rosterTimer);
  rosterTimer = setTimeout(refreshParticipants, 300);
});

// The waiting room also asks now and then (an event may be missed while reconnecting).
if (cfg.waiting) {
  setInterval(async () => {
    try { await api("join", "POST"); location.reload(); } catch (e) { if (e.code !== "waiting") $("room-status").textContent = e.message; }
  }, 10000);
}

const leave = $("btn-leave");
if (leave) leave.addEventListener("click", () => {
  window.dispatchEvent(new CustomEvent("yw:leave-room"));
  setTimeout(() => { location.href = `/meetings/${cfg.meeting}/`; }, 300);
});

fetchChat();
refreshCheckin();
refreshParticipants();
setInterval(refreshParticipants, 15000);
