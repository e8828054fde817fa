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

const CAMERA_MAX_BITRATE = 600000;   // bit/s
const SCREEN_MAX_BITRATE = 1200000;  // slides and documents stay sharp at 10 frames a second
const stats = (window.ywStats = {
  state: "connecting", session: null, joined: false, errors: [], messages: 0, queue: 0,
  frames: {},          // person id -> frames presented (requestVideoFrameCallback)
  framesDecoded: {},   // person id -> inbound-rtp framesDecoded (getStats)
  audioPackets: {},    // person id -> inbound-rtp packetsReceived of audio
  tiles: 0, speaker: null, muted: { audio: false, video: false }, mode: "video",
  sending: { audio: false, video: false, screen: false, small: false }, reconnects: 0, lastMessage: null,
  outgoing: {},        // source -> { width, kbps, limitation } of what this page sends (getStats)
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
function devicePrefs() {
  try { return JSON.parse(localStorage.getItem("yw.devices") || "{}"); } catch (e) { return {}; }
}

function joinPrefs() {  // "join muted" / "camera off", for the one join right after the check
  try { const p = JSON.parse(sessionStorage.getItem("yw.join") || "{}"); sessionStorage.removeItem("yw.join"); return p; }
  catch (e) { return {}; }
}

async function openLocal() {
  if (local) return local;
  try {
    const dev = devicePrefs();  // chosen in the pre-join check (meetings/prejoin.js)
    local = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, ...(dev.audio ? { deviceId: { ideal: dev.audio } } : {}) },
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30, max: 30 },
               ...(dev.video ? { deviceId: { ideal: dev.video } } : {}) },
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
        // about 600 kbit/s: what one viewer's line must carry for the camera (the SFU forwards,
        // it cannot lower the rate per viewer; weak viewers take the small track instead)
        const t = pub.addTransceiver(track, { direction: "sendonly", streams: [stream],
          sendEncodings: [{ maxBitrate: CAMERA_MAX_BITRATE }] });
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
  // 160 px wide at 15 fps and 30 kbit/s: with audio it fits a link far too weak for the camera
  // (and takes little from the publisher's own bandwidth estimate, which the camera shares).
  // The encoder scales it down: constraints on a clone were applied unevenly (a capture file
  // ignores them; getSettings() may report the old size just after), giving 40 px pictures.
  const width = track.getSettings().width || 640;
  const s = pub.addTransceiver(small, { direction: "sendonly",
    sendEncodings: [{ maxBitrate: 30000, maxFramerate: 15, scaleResolutionDownBy: Math.max(1, width / 160) }] });
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
  const t = pub.addTransceiver(track, { direction: "sendonly",
    sendEncodings: [{ maxBitrate: SCREEN_MAX_BITRATE }] });
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

// The stage: the presenter's screen, else their camera. Without a handover the hosts present.
// Our own camera is never the stage: when we present (or the presenter has no picture yet), the
// stage shows the remote speaker, else the first remote picture, and our camera stays a small tile.
function layout() {
  const grid = $("video-grid");
  if (!grid) return;
  let who = presenter;
  if (who === null) {
    const host = roster.find((p) => p.host);
    who = host ? host.person : (cfg.is_host ? cfg.person : null);
  }
  let tile = null;
  if (who !== null && who !== cfg.person) {
    tile = grid.querySelector(`.tile.remote.screen[data-person="${who}"]`)
      || grid.querySelector(`.tile.remote:not(.screen)[data-person="${who}"]`);
  }
  if (!tile) {
    const speaker = stats.speaker === null || stats.speaker === undefined ? null : Number(stats.speaker);
    tile = (speaker !== null && speaker !== cfg.person
            && grid.querySelector(`.tile.remote:not(.screen)[data-person="${speaker}"]`))
      || grid.querySelector(".tile.remote.screen") || grid.querySelector(".tile.remote");
  }
  for (const t of grid.querySelectorAll(".tile.stage")) if (t !== tile) t.classList.remove("stage");
  grid.classList.toggle("has-stage", Boolean(tile));
  if (tile) {
    tile.classList.add("stage");
    if (grid.firstElementChild !== tile) grid.prepend(tile);
    const v = tile.querySelector("video"); if (v) v.play().catch(() => {});
  }
  stats.stage = tile ? tile.dataset.key : null;
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

// ------------------------------------------------------------------ stats and weak links
// Once a second we read the receiving connection's statistics and judge the second. It is
// "poor" when video loses more than 8 % of its packets; when it stalls (no frame decoded, or a
// freeze counted by the browser) or holds frames over a second in the jitter buffer, with our
// link's fingerprints on it (see judge()); when audio loses more than 10 % of its packets or
// conceals more than 15 % of its samples; or when the round trip exceeds 600 ms (a rural
// line's buffers fill up and delay everything before they drop anything). The ladder goes one
// step at a time, like Jitsi's and LiveKit's automatic layer drops down to "last N 0":
//   video → small  when 6 of the last 8 seconds were poor (banner proposing 仅音频)
//   small → audio  the same again (banner with a one-click 恢复视频)
// After a change the link settles for 3 s (renegotiation, a keyframe) before it is judged again.
// Going back up is only offered, never forced: after 8 clean seconds in a row the downlink is
// measured (a timed fetch of this page's own scripts, about 60 kB, given up after 2.5 s); if it
// carries enough, a banner offers video again. A declined or failed offer waits 1.5 times as long
// next time, and so does an accepted one that had to be taken back within a minute. Whoever
// takes video back from the audio-only banner keeps it: for two minutes audio only is proposed,
// not imposed. A mode chosen with the 仅音频 button is the person's own: nothing is switched or
// offered then.
const LINK = {
  window: 8, downAfter: 6, settleMs: 3000, upAfter: 8, upAfterMax: 240, backoff: 1.5,
  videoLoss: 0.08, audioLoss: 0.10, concealed: 0.15, jitterMs: 1000, rttMs: 600, queuedMs: 250,
  probeMs: 2500, videoKbps: 1500, smallKbps: 300,
};
const link = (stats.link = {
  state: "good", lossVideo: 0, lossAudio: 0, fps: null, jitterMs: 0, rttMs: null, kbps: 0, poor: 0, clean: 0,
  offer: null, probeKbps: null, chosen: false, steps: [], why: [],
});
let prevRtp = new Map();        // inbound-rtp id -> last report
let prevBytes = null;
let history = [];               // last LINK.window seconds: true = poor
let settleUntil = 0;
let upAfter = LINK.upAfter;     // clean seconds before the next probe (doubles on failure)
let probing = false;
let autoSince = 0;              // when we last went up by an accepted offer
let userChose = false;          // the person picked the mode with the 仅音频 button
let holdUntil = 0;              // the person took video back: propose audio only, do not switch

// What this page sends, per source: resolution, rate and what limits it ("bandwidth" when the
// browser's estimate of the uplink holds it back), for the diagnostics and the tests.
const prevOut = new Map();
async function pollSending() {
  if (!pub) return;
  let report;
  try { report = await pub.getStats(); } catch (e) { return; }
  const byMid = new Map(pub.getTransceivers().map((t) => [t.mid, sources.get(t)]));
  report.forEach((r) => {
    if (r.type !== "outbound-rtp" || r.kind !== "video") return;
    const source = byMid.get(r.mid);
    if (!source) return;
    const prev = prevOut.get(r.id);
    prevOut.set(r.id, r);
    if (!prev || r.timestamp <= prev.timestamp) return;
    stats.outgoing[source] = {
      width: r.frameWidth || 0,
      kbps: Math.round(8 * (r.bytesSent - prev.bytesSent) / (r.timestamp - prev.timestamp)),
      limitation: r.qualityLimitationReason || "none",
    };
  });
}

async function pollStats() {
  if (!sub) return;
  let report;
  try { report = await sub.getStats(); } catch (e) { return; }
  const live = new Map(roster.map((p) => [p.session, p]));
  const sample = { video: [], audio: [], bytes: 0, rtt: null };
  report.forEach((r) => {
    // the round trip of ICE's consent checks crosses the same queues as the media
    if (r.type === "transport" && r.selectedCandidatePairId) sample.rtt = roundTrip(report.get(r.selectedCandidatePairId));
    if (r.type !== "inbound-rtp") return;
    const info = tracksInfo[r.mid];
    if (!info || !info.session) return;
    sample.bytes += r.bytesReceived || 0;
    const prev = prevRtp.get(r.id);
    prevRtp.set(r.id, r);
    if (r.kind === "video") {
      const key = info.role === "screen" ? `${info.person}:screen` : String(info.person);
      stats.framesDecoded[key] = r.framesDecoded || 0;
      const who = live.get(info.session);
      // a camera that is off, or paused by the host, decodes nothing: that is not a weak link
      const expected = info.role !== "screen" && (!who || who.video !== false);
      if (prev && prev.ssrc === r.ssrc) sample.video.push(videoSecond(prev, r, expected));
    } else if (r.kind === "audio") {
      stats.audioPackets[String(info.person)] = r.packetsReceived || 0;
      if (prev && prev.ssrc === r.ssrc) sample.audio.push(audioSecond(prev, r));
    }
  });
  weakLink(sample);
}

// The round trip measured since the last second (consent checks come every few seconds), else
// the last one for up to 6 s: a stale figure must not keep a drained line "full".
let rttSeen = { total: 0, responses: 0, ms: null, at: 0 };
function roundTrip(pair) {
  if (!pair || typeof pair.totalRoundTripTime !== "number") return null;
  const now = Date.now();
  const responses = pair.responsesReceived || 0;
  if (responses > rttSeen.responses) {
    const ms = 1000 * (pair.totalRoundTripTime - rttSeen.total) / (responses - rttSeen.responses);
    rttSeen = { total: pair.totalRoundTripTime, responses, ms, at: now };
  } else if (responses < rttSeen.responses) {
    rttSeen = { total: pair.totalRoundTripTime, responses, ms: null, at: now };  // a new connection
  }
  return rttSeen.ms !== null && now - rttSeen.at <= 6000 ? rttSeen.ms : null;
}

function ratio(part, whole) { return whole > 0 ? part / whole : 0; }

function videoSecond(a, b, expected) {
  const lost = Math.max(0, (b.packetsLost || 0) - (a.packetsLost || 0));
  const got = Math.max(0, (b.packetsReceived || 0) - (a.packetsReceived || 0));
  const frames = (b.framesDecoded || 0) - (a.framesDecoded || 0);
  const emitted = (b.jitterBufferEmittedCount || 0) - (a.jitterBufferEmittedCount || 0);
  const jitterMs = emitted > 0 ? 1000 * ((b.jitterBufferDelay || 0) - (a.jitterBufferDelay || 0)) / emitted : 0;
  const freezes = (b.freezeCount || 0) - (a.freezeCount || 0);
  const frozenMs = 1000 * ((b.totalFreezesDuration || 0) - (a.totalFreezesDuration || 0));
  const loss = lost + got >= 10 ? ratio(lost, lost + got) : 0;
  const stalled = expected && (frames <= 0 || freezes > 0 || frozenMs > 300);
  return { loss, lost, got, frames, jitterMs, stalled };
}

function audioSecond(a, b) {
  const lost = Math.max(0, (b.packetsLost || 0) - (a.packetsLost || 0));
  const got = Math.max(0, (b.packetsReceived || 0) - (a.packetsReceived || 0));
  const samples = (b.totalSamplesReceived || 0) - (a.totalSamplesReceived || 0);
  const concealed = (b.concealedSamples || 0) - (a.concealedSamples || 0) - ((b.silentConcealedSamples || 0) - (a.silentConcealedSamples || 0));
  const loss = lost + got >= 10 ? ratio(lost, lost + got) : 0;
  const hidden = samples > 0 ? ratio(Math.max(0, concealed), samples) : 0;
  return { loss, lost, got, hidden };
}

// Why this second was poor (empty: it was not). A publisher's own trouble (its CPU, its uplink,
// its camera going quiet) also stalls video and makes audio conceal, for every viewer alike:
// those count only with our link's fingerprints on them — packets lost on the way to us, a
// round trip showing full buffers, or every stream silent at once.
function judge(sample, video) {
  const why = [];
  const queued = sample.rtt !== null && sample.rtt > LINK.queuedMs;
  const silent = sample.audio.length > 0 && sample.audio.every((x) => x.got === 0);
  const ours = (x) => x.lost > 0 || queued || (x.got === 0 && silent);
  if (sample.rtt !== null && sample.rtt > LINK.rttMs) why.push("rtt");
  if (video.some((v) => v.loss > LINK.videoLoss)) why.push("video-loss");
  if (video.some((v) => (v.stalled || v.jitterMs > LINK.jitterMs) && ours(v))) why.push("video-stall");
  if (sample.audio.some((x) => x.loss > LINK.audioLoss)) why.push("audio-loss");
  if (sample.audio.some((x) => x.hidden > LINK.concealed && (x.lost > 0 || queued))) why.push("audio-concealed");
  return why;
}

function weakLink(sample) {
  const now = Date.now();
  if (prevBytes !== null) link.kbps = Math.round(Math.max(0, sample.bytes - prevBytes) * 8 / 1000);
  prevBytes = sample.bytes;
  const video = mode === "audio" ? [] : sample.video;
  link.lossVideo = Math.max(0, ...video.map((v) => v.loss));
  link.lossAudio = Math.max(0, ...sample.audio.map((a) => a.loss));
  link.jitterMs = Math.round(Math.max(0, ...video.map((v) => v.jitterMs)));
  link.fps = video.length ? Math.min(...video.map((v) => v.frames)) : null;
  link.rttMs = sample.rtt === null ? null : Math.round(sample.rtt);
  if (now < settleUntil || (!video.length && !sample.audio.length)) return;
  const why = judge(sample, video);
  const poor = why.length > 0;
  if (poor) link.why = why;
  history.push(poor);
  if (history.length > LINK.window) history.shift();
  link.poor = history.filter(Boolean).length;
  link.clean = poor ? 0 : link.clean + 1;
  link.state = link.poor >= LINK.downAfter ? "bad" : (link.poor ? "unsteady" : "good");
  if (userChose) return;
  if (link.poor >= LINK.downAfter && mode !== "audio") {
    stepDown();
  } else if (link.clean >= upAfter && mode !== "video" && !link.offer && !probing) {
    probeUp();
  }
}

function stepDown() {
  if (autoSince && Date.now() - autoSince < 60000) backOff();
  autoSince = 0;
  const to = mode === "video" ? "small" : "audio";
  if (to === "audio" && Date.now() < holdUntil) {
    history = []; link.poor = 0;
    if (link.offer !== "audio") {
      linkBanner(gettext("网络仍然很差，建议改为仅音频。"), [[gettext("仅音频"), () => { applyMode("audio"); linkBanner(""); }]]);
      link.offer = "audio";
    }
    return;
  }
  link.steps.push(`${mode}>${to}`);
  applyMode(to);
  if (to === "small") {
    linkBanner(gettext("网络较差，已自动切换为低清视频。如仍卡顿，可改为仅音频。"),
      [[gettext("仅音频"), () => { applyMode("audio"); linkBanner(""); }]]);
  } else {
    linkBanner(gettext("网络很差，已自动切换为仅音频，以保证听清发言。"),
      [[gettext("恢复视频"), () => { holdUntil = Date.now() + 120000; applyMode("small"); linkBanner(""); }]]);
  }
}

// The bytes a fetch took on the wire: scripts come gzipped, so the decoded length would count
// three to four times what the link carried (Resource Timing knows the encoded size).
async function wireBytes(href, decoded) {
  let entries = performance.getEntriesByName(href);
  if (!entries.length) {  // the entry may be queued a moment after the body is read
    await new Promise((resolve) => setTimeout(resolve, 50));
    entries = performance.getEntriesByName(href);
  }
  const last = entries[entries.length - 1];
  if (performance.clearResourceTimings && performance.getEntriesByType("resource").length > 200) {
    performance.clearResourceTimings();
  }
  return last && last.encodedBodySize > 0 ? last.encodedBodySize : decoded;
}

// Measure what the downlink carries now: fetch this page's scripts again, timed, never cached.
async function probeKbps() {
  const urls = [...document.querySelectorAll("script[src]")].map((s) => s.src)
    .filter((u) => new URL(u).origin === location.origin);
  if (!urls.length) return 0;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), LINK.probeMs);
  const started = performance.now();
  let bytes = 0;
  try {
    // ~60 kB: more than a shaper's burst and a few round trips, little enough for a weak link
    for (let i = 0; bytes < 60000 && i < 24; i += 1) {
      const u = new URL(urls[i % urls.length]);
      u.searchParams.set("yw-probe", `${Date.now()}-${i}`);
      const body = await fetch(u, { cache: "no-store", signal: ctrl.signal }).then((r) => r.arrayBuffer());
      bytes += await wireBytes(u.href, body.byteLength);
    }
  } catch (e) {
    return Math.round(bytes * 8 / LINK.probeMs);  // the deadline passed: slower than needed
  } finally { clearTimeout(timer); }
  return Math.round(bytes * 8 / Math.max(1, performance.now() - started));
}

function backOff() { upAfter = Math.min(LINK.upAfterMax, Math.round(upAfter * LINK.backoff)); }

async function probeUp() {
  probing = true;
  const kbps = await probeKbps();
  probing = false;
  link.probeKbps = kbps;
  if (mode === "video" || userChose) return;
  const to = kbps >= LINK.videoKbps ? "video" : (kbps >= LINK.smallKbps && mode === "audio" ? "small" : null);
  if (!to) {
    link.clean = 0; backOff();
    return;
  }
  link.offer = to;
  linkBanner(to === "video" ? gettext("网络已好转，可以恢复高清视频。") : gettext("网络已好转，可以恢复视频（低清）。"), [
    [gettext("恢复视频"), () => { autoSince = Date.now(); applyMode(to); linkBanner(""); }],
    [gettext("暂不"), () => { link.offer = null; link.clean = 0; backOff(); linkBanner(""); }],
  ]);
}

// A banner of its own (other messages use #room-banner), with its buttons.
function linkBanner(text, actions = []) {
  let el = $("link-banner");
  if (!el) {
    const anchor = $("room-banner");
    if (!anchor) { if (text) status(text); return; }
    el = document.createElement("div");
    el.id = "link-banner";
    el.setAttribute("role", "status");
    anchor.after(el);
  }
  el.className = "banner link";
  el.hidden = !text;
  el.replaceChildren(document.createTextNode(text));
  if (!text) link.offer = null;
  for (const [label, fn] of actions) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label;
    b.addEventListener("click", fn);
    el.append(" ", b);
  }
}

// The weak-link ladder's own changes, and the offers' buttons.
function applyMode(m) {
  if (m === mode) return;
  setMode(m);
  history = []; link.poor = 0; link.clean = 0; link.offer = null;
  settleUntil = Date.now() + LINK.settleMs;
}

function setMode(m) {
  mode = m; stats.mode = m;
  send({ type: "mode", mode: m });
  const btn = $("btn-audio-only");
  if (btn) { btn.setAttribute("aria-pressed", String(m === "audio")); btn.textContent = m === "audio" ? gettext("恢复视频") : gettext("仅音频"); }
}

// The 仅音频 / 恢复视频 button: the person's own choice. Audio only stays until they change it;
// back to video hands the choice to the ladder again.
function chooseMode(m) {
  userChose = m === "audio";
  link.chosen = userChose;
  upAfter = LINK.upAfter; autoSince = 0;
  linkBanner("");
  applyMode(m);
}

// ------------------------------------------------------------------ signalling
function onMessage(msg) {
  stats.messages += 1; stats.lastMessage = msg.type;
  switch (msg.type) {
    case "hello":
      stats.session = msg.session;
      send({ type: "join", mode });
      break;
    case "joining":  // admission control: the server works on a few joins at a time, we wait our turn
      stats.state = "queued"; stats.queue = msg.position;
      status(msg.message || gettext("正在进入会议…"));
      break;
    case "joined":
      stats.joined = true; stats.state = "joined"; stats.queue = 0; retry = 0;
      presenter = msg.presenter === undefined || msg.presenter === null ? null : Number(msg.presenter);
      stats.presenter = presenter;
      status(gettext("已连接"));
      publish().then(() => {
        const p = joinPrefs();
        if (p.muted) setMuted("audio", true);
        if (p.cameraOff) setMuted("video", true);
      }).catch((e) => banner(gettext("发布音视频失败：") + e.message));
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
      if (presenter === cfg.person || (presenter === null && cfg.is_host)) layout(); // we present: the speaker is on stage
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
      if (msg.code === "busy") {  // too many joining at once (admission control): try again later
        reconnect(msg.message || gettext("进入会议的人数过多，稍后将自动重试"), true);
        break;
      }
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
// busy: the server refused the join for load; wait longer, and spread the retries (a random
// share of the delay) so that the refused do not all come back in the same second.
function reconnect(text, busy = false) {
  if (closing || reconnecting) return;
  reconnecting = true;
  stats.state = busy ? "busy" : "reconnecting"; stats.reconnects += 1;
  status(text);
  try { if (ws) ws.close(); } catch (e) { /* ignore */ }
  closePeers();
  const delay = busy ? Math.min(60000, 3000 * 2 ** retry) * (0.5 + Math.random())
    : Math.min(10000, 1000 * 2 ** retry);
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
// Phone browsers cannot share a screen: no button that can only fail.
if (!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia) && $("btn-screen")) $("btn-screen").hidden = true;
on("btn-audio-only", () => chooseMode(mode === "audio" ? "video" : "audio"));
window.addEventListener("yw:leave-room", teardown);
window.addEventListener("yw:meeting-ended", teardown);
window.addEventListener("beforeunload", () => { closing = true; });

window.ywRoom = { send, setMode, setMuted, toggleScreen, stats, canPresent };

if (cfg.ws && !cfg.waiting) {
  connect();
  setInterval(pollStats, 1000);
  setInterval(pollSending, 2000);
}
