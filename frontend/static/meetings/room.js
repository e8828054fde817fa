// room.js — the browser client of the forwarding SFU (meetings/sfu/room.py).
//
// Signalling over the websocket cfg.ws (meetings/consumers.py). Two RTCPeerConnections:
//   pub — we offer what we send (mic, camera, a small second camera track for the host, screen);
//   sub — the server offers what we receive; we answer. Each has a single offerer, so
//         renegotiation (screen sharing, people joining) never collides.
// Media: VP8 and Opus are preferred (the server forwards them without re-encoding).
// Weak links: "仅音频" receives audio only; sustained loss switches to the small video track.
// A dropped network reconnects by itself (the server replaces the old session).
// Presenting (主讲): the presenter's screen (else camera) is the large "stage" tile for everyone;
// only a host or the presenter sends the small second track and may share a screen. A host's
// handover arrives as {"type": "presenter"} and the layout and our own tracks follow.
// Decoded frames are reported in window.ywStats (requestVideoFrameCallback + getStats).
const cfgEl = document.getElementById("room-config");
const cfg = cfgEl ? JSON.parse(cfgEl.textContent) : {};
const $ = (id) => document.getElementById(id);

const stats = (window.ywStats = {
  state: "connecting", session: null, joined: false, errors: [], messages: 0,
  frames: {},          // person id -> frames presented (requestVideoFrameCallback)
  framesDecoded: {},   // person id -> inbound-rtp framesDecoded (getStats)
  audioPackets: {},    // person id -> inbound-rtp packetsReceived of audio
  tiles: 0, speaker: null, muted: { audio: false, video: false }, mode: "video",
  sending: { audio: false, video: false, screen: false, small: false }, reconnects: 0, lastMessage: null,
  presenter: null,     // person id a host handed presenting to (null: the hosts present)
  stage: null,         // data-key of the tile on stage ("local" for our own)
});

let ws = null;
let pub = null;
let sub = null;
let local = null;            // MediaStream from getUserMedia
let screenStream = null;
const sources = new Map();   // pub transceiver -> "mic" | "camera" | "small" | "screen"
let tracksInfo = {};         // sub mid -> {session, person, name, role, kind}
const remote = new Map();    // sub mid -> MediaStreamTrack
let closing = false;         // we are leaving on purpose (no reconnect)
let retry = 0;
let mode = "video";
let pubBusy = Promise.resolve();
let presenter = null;        // person id of the presenter (null: the hosts)
let roster = [];             // the SFU's participants (to find a host when nobody was handed presenting)

function canPresent() { return Boolean(cfg.is_host) || (presenter !== null && presenter === cfg.person); }

function banner(text, kind = "") {
  const el = $("room-banner");
  if (!el) { const s = $("room-status"); if (s) s.textContent = text; return; }
  el.textContent = text;
  el.className = `banner ${kind}`;
  el.hidden = !text;
}
function status(text) { const s = $("room-status"); if (s) s.textContent = text; }

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function pcConfig() {
  return { iceServers: cfg.ice_servers || [], bundlePolicy: "max-bundle" };
}

function preferCodecs(transceiver, kind) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  const want = kind === "video" ? ["video/vp8", "video/h264"] : ["audio/opus"];
  const first = [];
  for (const name of want) first.push(...caps.codecs.filter((c) => c.mimeType.toLowerCase() === name));
  const rtx = caps.codecs.filter((c) => c.mimeType.toLowerCase().endsWith("/rtx"));
  try { transceiver.setCodecPreferences([...first, ...rtx]); } catch (e) { /* browser refuses: keep defaults */ }
}

function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

// ------------------------------------------------------------------ local media
async function openLocal() {
  if (local) return local;
  try {
    local = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30, max: 30 } },
    });
  } catch (e) {
    try { local = await navigator.mediaDevices.getUserMedia({ audio: true }); banner(gettext("未能打开摄像头，仅使用麦克风。")); }
    catch (e2) { local = new MediaStream(); banner(gettext("未能打开摄像头和麦克风，仅观看。")); }
  }
  const v = $("local-video");
  if (v) v.srcObject = local;
  return local;
}

async function publish() {
  pubBusy = pubBusy.then(async () => {
    const stream = await openLocal();
    if (!pub) {
      pub = new RTCPeerConnection(pcConfig());
      pub.addEventListener("connectionstatechange", () => {
        if (pub && pub.connectionState === "failed") reconnect(gettext("发送连接中断，正在重新连接…"));
      });
      sources.clear();
      for (const track of stream.getAudioTracks()) {
        const t = pub.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        preferCodecs(t, "audio"); sources.set(t, "mic");
      }
      for (const track of stream.getVideoTracks()) {
        const t = pub.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        preferCodecs(t, "video"); sources.set(t, "camera");
        // The presenter (or a host) also sends a small second track that weak viewers get instead.
        if (canPresent()) await addSmall(track);
      }
      stats.sending.audio = stream.getAudioTracks().length > 0;
      stats.sending.video = stream.getVideoTracks().length > 0;
    }
    if (!sources.size) return;
    await offerPub();
  });
  return pubBusy;
}

async function addSmall(track) {
  const small = track.clone();
  try { await small.applyConstraints({ width: 160, height: 120, frameRate: 15 }); } catch (e) { /* keep */ }
  const s = pub.addTransceiver(small, { direction: "sendonly",
    sendEncodings: [{ maxBitrate: 120000, scaleResolutionDownBy: small.getSettings().width > 200 ? 4 : 1 }] });
  preferCodecs(s, "video"); sources.set(s, "small");
  stats.sending.small = true;
}

function dropSource(name) {
  let dropped = false;
  for (const [t, s] of sources) {
    if (s !== name) continue;
    const track = t.sender.track;
    t.sender.replaceTrack(null); t.direction = "inactive"; sources.delete(t);
    if (track && name === "small") track.stop();
    dropped = true;
  }
  return dropped;
}

// Presenting changed hands: start or stop our presenter-only tracks (small, screen).
function syncPresenting() {
  if (!pub) return;
  if (canPresent()) {
    pubBusy = pubBusy.then(async () => {
      if (!pub || [...sources.values()].includes("small") || !local) return;
      const cam = local.getVideoTracks()[0];
      if (!cam) return;
      await addSmall(cam);
      await offerPub();
    }).catch((e) => banner(gettext("发布低清视频失败：") + e.message));
    return;
  }
  const hadScreen = Boolean(screenStream);
  if (hadScreen) stopScreen(false);
  pubBusy = pubBusy.then(async () => {
    if (!pub) return;
    const droppedSmall = dropSource("small");
    if (droppedSmall) stats.sending.small = false;
    if (droppedSmall || hadScreen) await offerPub();
  }).catch((e) => banner(gettext("协商失败：") + e.message));
}

function stopScreen(renegotiate = true) {
  const btn = $("btn-screen");
  dropSource("screen");
  if (screenStream) screenStream.getTracks().forEach((x) => x.stop());
  screenStream = null;
  stats.sending.screen = false;
  if (btn) { btn.setAttribute("aria-pressed", "false"); btn.textContent = gettext("共享屏幕"); }
  if (renegotiate) pubBusy = pubBusy.then(offerPub);
}

async function offerPub() {
  const offer = await pub.createOffer();
  await pub.setLocalDescription(offer);
  await gathered(pub);
  const tracks = {};
  for (const [t, source] of sources) if (t.mid !== null) tracks[t.mid] = source;
  send({ type: "offer", pc: "pub", sdp: pub.localDescription.sdp, tracks });
}

async function toggleScreen() {
  if (!pub) return;
  const btn = $("btn-screen");
  if (screenStream) { stopScreen(); return; }
  if (!canPresent()) { banner(gettext("只有主讲人或主持人可以共享屏幕，请主持人移交主讲。")); return; }
  try {
    screenStream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 10 }, audio: false });
  } catch (e) { banner(gettext("未能共享屏幕。")); return; }
  const track = screenStream.getVideoTracks()[0];
  track.addEventListener("ended", () => { if (screenStream) toggleScreen(); });
  const t = pub.addTransceiver(track, { direction: "sendonly" });
  preferCodecs(t, "video");
  sources.set(t, "screen");
  stats.sending.screen = true;
  if (btn) { btn.setAttribute("aria-pressed", "true"); btn.textContent = gettext("停止共享"); }
  pubBusy = pubBusy.then(offerPub);
}

// ------------------------------------------------------------------ receiving
function tileFor(info) {
  const grid = $("video-grid");
  if (!grid) return null;
  const key = `${info.session}:${info.role === "screen" ? "screen" : "cam"}`;
  let tile = grid.querySelector(`.tile[data-key="${key}"]`);
  if (!tile) {
    tile = document.createElement("div");
    tile.className = "tile remote" + (info.role === "screen" ? " screen" : "");
    tile.dataset.key = key;
    tile.dataset.session = info.session;
    tile.dataset.person = info.person;
    const video = document.createElement("video");
    video.autoplay = true; video.playsInline = true; video.muted = true;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = (info.name || "") + (info.role === "screen" ? gettext("（屏幕）") : "");
    tile.append(video, name);
    grid.appendChild(tile);
    countFrames(video, info.person, info.role);
  }
  return tile;
}

function countFrames(video, person, role) {
  const key = role === "screen" ? `${person}:screen` : String(person);
  stats.frames[key] = stats.frames[key] || 0;
  if (!video.requestVideoFrameCallback) return;
  const cb = () => { stats.frames[key] += 1; video.requestVideoFrameCallback(cb); };
  video.requestVideoFrameCallback(cb);
}

function render() {
  const grid = $("video-grid");
  const live = new Set();
  for (const [mid, info] of Object.entries(tracksInfo)) {
    const track = remote.get(mid);
    if (!track || !info.session) continue;
    if (info.kind === "audio") {
      let el = document.querySelector(`audio[data-mid="${mid}"]`);
      if (!el) { el = document.createElement("audio"); el.autoplay = true; el.dataset.mid = mid; document.body.appendChild(el); }
      if (!el.srcObject || el.srcObject.getTracks()[0] !== track) el.srcObject = new MediaStream([track]);
      continue;
    }
    const tile = tileFor(info);
    if (!tile) continue;
    live.add(tile.dataset.key);
    const video = tile.querySelector("video");
    // Keep the element (and its last frame) when the track pauses: no black tile.
    if (!video.srcObject || video.srcObject.getTracks()[0] !== track) video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
  }
  if (grid) {
    for (const tile of grid.querySelectorAll(".tile.remote")) if (!live.has(tile.dataset.key)) tile.remove();
    stats.tiles = grid.querySelectorAll(".tile.remote").length;
  }
  layout();
}

// The stage: the presenter's screen, else their camera (ours if we present). Without a handover
// the hosts present. Everyone else stays in the grid below.
function layout() {
  const grid = $("video-grid");
  if (!grid) return;
  let who = presenter;
  if (who === null) {
    const host = roster.find((p) => p.host);
    who = host ? host.person : (cfg.is_host ? cfg.person : null);
  }
  let tile = null;
  if (who !== null) {
    tile = grid.querySelector(`.tile.remote.screen[data-person="${who}"]`)
      || grid.querySelector(`.tile.remote:not(.screen)[data-person="${who}"]`)
      || (who === cfg.person ? $("local-tile") : null);
  }
  for (const t of grid.querySelectorAll(".tile.stage")) if (t !== tile) t.classList.remove("stage");
  if (tile) {
    tile.classList.add("stage");
    if (grid.firstElementChild !== tile) grid.prepend(tile);
    if (tile.dataset.key) { const v = tile.querySelector("video"); if (v) v.play().catch(() => {}); }
  }
  stats.stage = tile ? (tile.dataset.key || "local") : null;
}

function setPresenter(person) {
  const before = presenter;
  presenter = person === undefined || person === null ? null : Number(person);
  stats.presenter = presenter;
  if (before !== presenter) syncPresenting();
  layout();
}

async function answerSub(msg) {
  if (!sub) {
    sub = new RTCPeerConnection(pcConfig());
    sub.addEventListener("track", (e) => {
      const mid = e.transceiver && e.transceiver.mid;
      if (mid !== null && mid !== undefined) remote.set(mid, e.track);
      render();
    });
    sub.addEventListener("connectionstatechange", () => {
      if (sub && sub.connectionState === "failed") reconnect(gettext("接收连接中断，正在重新连接…"));
    });
  }
  Object.assign(tracksInfo, indexTracks(msg.tracks));
  await sub.setRemoteDescription({ type: "offer", sdp: msg.sdp });
  for (const t of sub.getTransceivers()) if (t.mid !== null && t.receiver.track) remote.set(t.mid, t.receiver.track);
  const answer = await sub.createAnswer();
  await sub.setLocalDescription(answer);
  await gathered(sub);
  send({ type: "answer", pc: "sub", sdp: sub.localDescription.sdp });
  render();
}

function indexTracks(list) {
  const out = {};
  for (const t of list || []) out[t.mid] = t;
  return out;
}

// ------------------------------------------------------------------ stats
async function pollStats() {
  if (!sub) return;
  let report;
  try { report = await sub.getStats(); } catch (e) { return; }
  let lost = 0; let received = 0;
  report.forEach((r) => {
    if (r.type !== "inbound-rtp") return;
    const info = tracksInfo[r.mid];
    if (!info || !info.session) return;
    if (r.kind === "video") {
      const key = info.role === "screen" ? `${info.person}:screen` : String(info.person);
      stats.framesDecoded[key] = r.framesDecoded || 0;
      lost += r.packetsLost || 0; received += r.packetsReceived || 0;
    } else if (r.kind === "audio") {
      stats.audioPackets[String(info.person)] = r.packetsReceived || 0;
    }
  });
  weakLink(lost, received);
}

let lastLoss = null; let badSince = null;
function weakLink(lost, received) {
  // Sustained loss above 8% for 10 s: switch to the small track and propose audio only.
  if (lastLoss) {
    const dl = lost - lastLoss.lost; const dr = received - lastLoss.received;
    const ratio = dl + dr > 0 ? dl / (dl + dr) : 0;
    if (ratio > 0.08) {
      badSince = badSince || Date.now();
      if (Date.now() - badSince > 10000 && mode === "video") {
        setMode("small");
        banner(gettext("网络较差，已切换为低清视频；如仍卡顿，可点击“仅音频”。"));
      }
    } else badSince = null;
  }
  lastLoss = { lost, received };
}

function setMode(m) {
  mode = m; stats.mode = m;
  send({ type: "mode", mode: m });
  const btn = $("btn-audio-only");
  if (btn) { btn.setAttribute("aria-pressed", String(m === "audio")); btn.textContent = m === "audio" ? gettext("恢复视频") : gettext("仅音频"); }
}

// ------------------------------------------------------------------ signalling
function onMessage(msg) {
  stats.messages += 1; stats.lastMessage = msg.type;
  switch (msg.type) {
    case "hello":
      stats.session = msg.session;
      send({ type: "join", mode });
      break;
    case "joined":
      stats.joined = true; stats.state = "joined"; retry = 0;
      presenter = msg.presenter === undefined || msg.presenter === null ? null : Number(msg.presenter);
      stats.presenter = presenter;
      status(gettext("已连接"));
      publish().catch((e) => banner(gettext("发布音视频失败：") + e.message));
      break;
    case "answer":
      if (msg.pc === "pub" && pub) pubBusy = pubBusy.then(() => pub.setRemoteDescription({ type: "answer", sdp: msg.sdp }))
        .catch((e) => banner(gettext("协商失败：") + e.message));
      break;
    case "offer":
      if (msg.pc === "sub") answerSub(msg).catch((e) => banner(gettext("协商失败：") + e.message));
      break;
    case "tracks":
      tracksInfo = indexTracks(msg.tracks);
      render();
      break;
    case "presenter":
      setPresenter(msg.person);
      break;
    case "participants":
      stats.participants = msg.participants;
      roster = msg.participants || [];
      if ("presenter" in msg) setPresenter(msg.presenter); else layout();
      document.dispatchEvent(new CustomEvent("yw:room-participants", { detail: msg.participants }));
      break;
    case "speaker":
      stats.speaker = msg.person;
      document.querySelectorAll(".tile.speaking").forEach((t) => t.classList.remove("speaking"));
      document.querySelectorAll(`.tile[data-session="${msg.session}"]`).forEach((t) => t.classList.add("speaking"));
      break;
    case "muted":
      if (msg.kind === "audio") setMuted("audio", true, false);
      if (msg.kind === "video") setMuted("video", true, false);
      banner(msg.message || gettext("主持人已将您静音。"));
      break;
    case "removed": case "ended": case "replaced":
      closing = true; stats.state = msg.type;
      banner(msg.message || gettext("会议已结束。"), "ended");
      status(msg.type === "replaced" ? gettext("已在其他窗口加入") : gettext("已离开会议"));
      teardown();
      break;
    case "error":
      stats.errors.push(msg);
      if (msg.code !== "rate_limited") banner(msg.message || gettext("出错了"));
      break;
    default:
      break;
  }
}

function setMuted(kind, on, tell = true) {
  stats.muted[kind] = on;
  if (local) for (const t of kind === "audio" ? local.getAudioTracks() : local.getVideoTracks()) t.enabled = !on;
  if (tell) send({ type: "mute", kind, on });
  const btn = $(kind === "audio" ? "btn-mic" : "btn-camera");
  if (btn) {
    btn.setAttribute("aria-pressed", String(on));
    btn.textContent = kind === "audio" ? (on ? gettext("取消静音") : gettext("静音")) : (on ? gettext("开启视频") : gettext("关闭视频"));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${scheme}//${location.host}${cfg.ws}`);
  stats.state = "connecting";
  ws.addEventListener("message", (e) => {
    let msg; try { msg = JSON.parse(e.data); } catch (err) { return; }
    onMessage(msg);
  });
  ws.addEventListener("close", (e) => {
    if (closing || [4401, 4403, 4409, 4410].includes(e.code)) {
      if (!closing && e.code === 4403) banner(gettext("无法进入会议。"));
      return;
    }
    reconnect(gettext("网络中断，正在重新连接…"));
  });
}

function closePeers() {
  for (const pc of [pub, sub]) if (pc) try { pc.close(); } catch (e) { /* already closed */ }
  pub = null; sub = null; sources.clear(); remote.clear(); tracksInfo = {};
  if (screenStream) { screenStream.getTracks().forEach((t) => t.stop()); screenStream = null; }
  pubBusy = Promise.resolve();
  // Tiles stay (with their last frame) while we reconnect; the next "tracks" re-fills them.
}

let reconnecting = false;
function reconnect(text) {
  if (closing || reconnecting) return;
  reconnecting = true;
  stats.state = "reconnecting"; stats.reconnects += 1;
  status(text);
  try { if (ws) ws.close(); } catch (e) { /* ignore */ }
  closePeers();
  const delay = Math.min(10000, 1000 * 2 ** retry);
  retry += 1;
  setTimeout(() => { reconnecting = false; connect(); }, delay);
}

function teardown() {
  closing = true;
  try { if (ws) ws.close(1000); } catch (e) { /* ignore */ }
  closePeers();
  if (local) local.getTracks().forEach((t) => t.stop());
}

// ------------------------------------------------------------------ controls
function on(id, fn) { const el = $(id); if (el) el.addEventListener("click", fn); }
on("btn-mic", () => setMuted("audio", !stats.muted.audio));
on("btn-camera", () => setMuted("video", !stats.muted.video));
on("btn-screen", () => toggleScreen());
on("btn-audio-only", () => setMode(mode === "audio" ? "video" : "audio"));
window.addEventListener("yw:leave-room", teardown);
window.addEventListener("yw:meeting-ended", teardown);
window.addEventListener("beforeunload", () => { closing = true; });

window.ywRoom = { send, setMode, setMuted, toggleScreen, stats, canPresent };

if (cfg.ws && !cfg.waiting) {
  connect();
  setInterval(pollStats, 1000);
}
