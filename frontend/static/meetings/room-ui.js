// The room page's own parts (not media): chat over HTTP + live events, check-in (签到), the
// waiting room, the participant list (a page at a time, searchable: a training may hold 3,000)
// with the host's per-person menu, the raised-hand queue, 问答 (questions to the presenter) and
// the host menu's commands. Media (camera, microphone, screen, tiles, audio-only) is room.js.
import { icon } from "./icons.js";
import { debounce, latest, throttle } from "./live-list.js";

const cfg = JSON.parse(document.getElementById("room-config").textContent);
const API = cfg.api; // "/api/meetings/<id>/"
const QA = `/api/training/${cfg.meeting}/questions`;
const me = cfg.person;
document.body.classList.add("in-room");

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function csrf() { const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }
const $ = (id) => document.getElementById(id);

async function request(url, method = "GET", body = undefined) {
  const res = await fetch(url, {
    method, credentials: "same-origin",
    headers: body === undefined ? { "X-CSRFToken": csrf() } : { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) { const err = new Error(data.detail || `HTTP ${res.status}`); err.status = res.status; err.code = data.code; throw err; }
  return data;
}
export function api(path, method = "GET", body = undefined) { return request(API + path, method, body); }

// In a room of thousands every join, hand and answer is an event: the lists below refetch at most
// every few seconds (hosts sooner), spread out so that the room's pages do not all ask at once;
// in a room of more than BIG people online a participant's page waits four times longer.
const BIG = 300;
let roomSize = 0;
const EVERY = () => (cfg.is_host ? 2000 : 5000 * (roomSize > BIG ? 4 : 1));
const SPREAD = () => (cfg.is_host ? 0 : 3000 * (roomSize > BIG ? 4 : 1));

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

// ---------------------------------------------------------------- participants (a page at a time)
const list = $("participant-list");
const people = { q: "", page: 1, pages: 1 };
const PEOPLE_PAGE = 30;
const loadPeople = latest(() => {
  const params = new URLSearchParams({ q: people.q, page: people.page, page_size: PEOPLE_PAGE });
  // hosts see who waits to be let in too (准许入会); everyone else those online
  if (cfg.is_host) { params.set("state", "present"); return api(`roster?${params}`); }
  return api(`participants?${params}`);
});
const HAND_LABEL = gettext("举手");

function personRow(p) {
  if (p.admission === "waiting") {
    return `<li data-person="${p.person_id}" class="waiting"><span class="pname">${esc(p.name)} <span class="tag warn">${gettext("等候中")}</span></span>
      <span class="person-actions"><button class="host-menu-btn" data-command="admit" data-target="${p.person_id}">${gettext("准许入会")}</button></span></li>`;
  }
  const tags = [p.host ? gettext("主持人") : "", p.presenter ? gettext("主讲") : "",
    p.media_mode === "audio" ? gettext("仅音频") : p.media_mode === "small" ? gettext("低清视频") : "", p.unit ? esc(p.unit) : ""]
    .filter(Boolean).map((t) => `<span class="tag">${t}</span>`).join(" ")
    + (p.hand ? ` <span class="tag">${icon("hand", HAND_LABEL, 14)}</span>` : "");
  const menu = cfg.is_host && p.person_id !== me ? `<span class="person-actions">
      <button class="host-menu-btn" data-command="mute" data-target="${p.person_id}" title="${gettext("静音")}">${gettext("静音")}</button>
      <button class="host-menu-btn" data-command="stop_video" data-target="${p.person_id}" title="${gettext("关闭视频")}">${gettext("关视频")}</button>
      <button class="host-menu-btn" data-command="present" data-target="${p.person_id}" title="${gettext("设为主讲")}">${gettext("主讲")}</button>
      ${p.hand ? `<button class="host-menu-btn" data-command="allow_speak" data-target="${p.person_id}">${gettext("允许发言")}</button><button class="host-menu-btn" data-command="lower_hand" data-target="${p.person_id}">${gettext("放下")}</button>` : ""}
      ${p.host ? "" : `<button class="host-menu-btn danger" data-command="remove" data-target="${p.person_id}" title="${gettext("移出会议")}">${gettext("移出")}</button>`}
    </span>` : "";
  return `<li data-person="${p.person_id}"><span class="pname">${esc(p.name)} ${tags}</span>${menu}</li>`;
}

async function refreshParticipants() {
  if (!list || cfg.waiting) return;
  let data;
  try { data = await loadPeople(); } catch (e) { return; }
  if (!data) return;  // a newer answer is on its way
  people.page = data.page; people.pages = data.pages;
  roomSize = data.counts.online;
  $("participant-count").textContent = `(${data.counts.online})`;
  list.innerHTML = data.participants.length ? data.participants.map(personRow).join("")
    : `<li class="empty">${people.q ? gettext("没有符合条件的参会人。") : gettext("还没有人入会。")}</li>`;
  $("people-pager").hidden = data.pages <= 1;
  $("people-page").textContent = interpolate(gettext("第 %(page)s / %(pages)s 页"), { page: data.page, pages: data.pages }, true);
  $("people-prev").disabled = data.page <= 1;
  $("people-next").disabled = data.page >= data.pages;
}
const participantsSoon = throttle(refreshParticipants, EVERY, SPREAD);
list && list.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-command]");
  if (b) hostCommand(b.dataset.command, Number(b.dataset.target));
});
const search = $("participant-search");
if (search) search.addEventListener("input", debounce(() => { people.q = search.value.trim(); people.page = 1; refreshParticipants(); }, 300));
$("people-prev").addEventListener("click", () => { if (people.page > 1) { people.page -= 1; refreshParticipants(); } });
$("people-next").addEventListener("click", () => { if (people.page < people.pages) { people.page += 1; refreshParticipants(); } });

// ---------------------------------------------------------------- raised hands: a queue the host works through
let handUp = false;
const handBtn = $("btn-hand");
function showHand(up) {
  handUp = up;
  if (!handBtn) return;
  handBtn.setAttribute("aria-pressed", String(up));
  handBtn.textContent = up ? gettext("放下手") : gettext("举手");
}

async function refreshHands() {
  const panel = $("hand-panel");
  if (!panel || cfg.waiting) return;
  let data;
  try { data = await api("hands"); } catch (e) { return; }
  const place = $("hand-place");
  showHand(data.mine !== null);
  place.hidden = data.mine === null;
  if (data.mine !== null) place.textContent = interpolate(gettext("您已举手，排在第 %(n)s 位（共 %(total)s 人）。"), { n: data.mine, total: data.total }, true);
  panel.hidden = !cfg.is_host && data.mine === null;
  if (!cfg.is_host) return;
  $("hand-count").textContent = `(${data.total})`;
  $("btn-next-speaker").disabled = !data.total;
  const queue = $("hand-queue");
  queue.hidden = !data.total;
  queue.innerHTML = data.queue.length ? data.queue.map((r) => `<li data-person="${r.person_id}">${esc(r.name)}${r.online ? "" : ` <span class="tag">${gettext("离开")}</span>`}
      <span class="person-actions"><button type="button" data-command="allow_speak" data-target="${r.person_id}">${gettext("允许发言")}</button>
      <button type="button" data-command="lower_hand" data-target="${r.person_id}">${gettext("放下")}</button></span></li>`).join("")
    : `<li class="empty">${gettext("没有人举手。")}</li>`;
  if (data.total > data.queue.length) {
    queue.insertAdjacentHTML("beforeend", `<li class="more">${interpolate(gettext("另有 %(n)s 人排队"), { n: data.total - data.queue.length }, true)}</li>`);
  }
}
const handsSoon = throttle(refreshHands, EVERY, SPREAD);
if ($("hand-queue")) $("hand-queue").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-command]");
  if (b) hostCommand(b.dataset.command, Number(b.dataset.target));
});
if ($("btn-next-speaker")) $("btn-next-speaker").addEventListener("click", async () => {
  try {
    const next = await api("hands/next", "POST");
    banner(interpolate(gettext("已允许 %(name)s 发言。"), { name: next.name }, true), "ok");
  } catch (e) { banner(e.message); }
  refreshHands(); refreshParticipants();
});
if (handBtn) handBtn.addEventListener("click", async () => {
  try {
    await api("hand", "POST", { up: !handUp });
    showHand(!handUp);
  } catch (e) { banner(e.message); }
  refreshHands();
});

function allowedToSpeak() {  // the host gave us the floor: offer the microphone (never switch it on unasked)
  showHand(false);
  banner(gettext("主持人已允许您发言。"), "ok");
  const el = $("room-banner");
  if (!el || !(window.ywRoom && window.ywRoom.stats.muted.audio)) return;
  const b = document.createElement("button");
  b.type = "button"; b.textContent = gettext("打开麦克风");
  b.addEventListener("click", () => { window.ywRoom.setMuted("audio", false); banner(""); });
  el.append(" ", b);
}

// ---------------------------------------------------------------- 问答: questions to the presenter
const qaList = $("qa-list");
const drafts = new Map();  // question id -> the answer being typed (kept across refreshes)
function questionRow(q, canAnswer) {
  const answer = q.answered ? `<span class="answer">${q.answered_live && !q.answer ? gettext("已现场答复") : esc(q.answer)}</span>`
    : `<span class="tag">${q.mine ? gettext("等待答复") : gettext("未答复")}</span>`;
  const form = canAnswer && !q.answered ? `<form class="qa-answer-form" data-question="${q.id}">
      <input name="answer" maxlength="2000" aria-label="${gettext("答复")}" placeholder="${gettext("输入答复")}" value="${esc(drafts.get(q.id) || "")}">
      <button type="submit">${gettext("答复")}</button><button type="button" data-live="${q.id}">${gettext("已现场答复")}</button></form>` : "";
  return `<li data-question="${q.id}" class="${q.answered ? "answered" : "open"}"><span class="who">${esc(q.name)}</span><span class="text">${esc(q.text)}</span> ${answer}${form}</li>`;
}
async function refreshQuestions() {
  if (!qaList) return;
  let data;
  try { data = await request(QA); } catch (e) { return; }
  for (const input of qaList.querySelectorAll("form[data-question] input")) drafts.set(Number(input.closest("form").dataset.question), input.value);
  const focused = document.activeElement && qaList.contains(document.activeElement) ? document.activeElement.closest("form[data-question]") : null;
  qaList.innerHTML = data.questions.length ? data.questions.map((q) => questionRow(q, data.can_answer)).join("")
    : `<li class="empty">${data.can_answer ? gettext("还没有人提问。") : gettext("提问后，主讲人的答复会显示在这里。")}</li>`;
  $("qa-count").textContent = data.can_answer ? `(${interpolate(gettext("未答复 %(n)s"), { n: data.open }, true)})` : "";
  if (focused) { const again = qaList.querySelector(`form[data-question="${focused.dataset.question}"] input`); if (again) again.focus(); }
}
const questionsSoon = throttle(refreshQuestions, EVERY, SPREAD);
async function answer(id, text, live) {
  $("qa-error").textContent = "";
  try { await request(`${QA}/${id}/answer`, "POST", { text, live }); drafts.delete(id); } catch (e) { $("qa-error").textContent = e.message; }
  refreshQuestions();
}
if (qaList) {
  qaList.addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target.closest("form[data-question]");
    answer(Number(form.dataset.question), form.querySelector("input").value, false);
  });
  qaList.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-live]");
    if (b) answer(Number(b.dataset.live), b.closest("form").querySelector("input").value, true);
  });
  $("qa-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("qa-input");
    $("qa-error").textContent = "";
    try {
      await request(QA, "POST", { text: input.value });
      input.value = "";
      banner(gettext("问题已发送给主讲人。"), "ok"); setTimeout(() => banner(""), 3000);
    } catch (err) { $("qa-error").textContent = err.message; }
    refreshQuestions();
  });
}

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
  if (command === "allow_speak" || command === "lower_hand") refreshHands();
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
  // a raised hand goes to the back: it moves nobody's place; a lowered one moves those behind it
  else if (ev.op === "hand") { if (cfg.is_host) { participantsSoon(); handsSoon(); } else if (ev.person === me || (!ev.up && handUp)) handsSoon(); }
  else if (ev.op === "roster") participantsSoon();
  else if (ev.op === "question" || ev.op === "answer") questionsSoon();
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
    if (ev.command === "allow_speak" && ev.target === me) allowedToSpeak();
    if (ev.command === "lower_hand" && ev.target === me) { showHand(false); banner(gettext("主持人放下了您的手。")); }
    if (ev.command === "present") questionsSoon();  // the new presenter answers questions
    if ((ev.command === "allow_speak" || ev.command === "lower_hand") && (cfg.is_host || handUp)) handsSoon();
    // what a participant's panel shows changes with a presenter or a removal only
    if (cfg.is_host || ev.command === "present" || ev.command === "remove") participantsSoon();
  }
});
document.addEventListener("yw:resync", () => { fetchChat(); refreshCheckin(); participantsSoon(); handsSoon(); questionsSoon(); });
// room.js passes on the SFU's roster whenever someone comes or goes: refetch ours (throttled).
document.addEventListener("yw:room-participants", participantsSoon);

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
refreshHands();
refreshQuestions();
setInterval(participantsSoon, 15000);
