// The pre-join check on a meeting's page (like Jitsi's): camera preview, microphone level,
// device choice, "join muted" and "camera off", and a clear word when the browser refuses a device.
// Choices: devices in localStorage "yw.devices" (kept), join options in sessionStorage "yw.join"
// (the next join only); meetings/room.js reads both.
const box = document.getElementById("device-check");
const video = document.getElementById("check-video");
const meter = document.getElementById("check-meter");
const camSel = document.getElementById("check-camera");
const micSel = document.getElementById("check-mic");
const note = document.getElementById("check-note");
const muted = document.getElementById("check-muted");
const camOff = document.getElementById("check-camera-off");
let stream = null;
let audioCtx = null;
let frame = 0;

const prefs = () => { try { return JSON.parse(localStorage.getItem("yw.devices") || "{}"); } catch (e) { return {}; } };

function say(text) { note.textContent = text; note.hidden = !text; }

function explain(err) {
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError"))
    return gettext("浏览器拒绝了摄像头或麦克风：请点地址栏左侧的网站设置，允许摄像头和麦克风后重试。也可以不开设备直接入会，只听只看。");
  if (err && (err.name === "NotFoundError" || err.name === "OverconstrainedError"))
    return gettext("没有找到摄像头或麦克风：请检查设备是否接好。也可以不开设备直接入会。");
  if (err && err.name === "NotReadableError")
    return gettext("摄像头或麦克风正被其他程序占用：请关闭其他程序后重试。");
  return gettext("无法打开摄像头或麦克风。");
}

function stop() {
  cancelAnimationFrame(frame);
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  if (audioCtx) audioCtx.close();
  audioCtx = null;
  meter.value = 0;
}

async function fill() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const chosen = prefs();
  for (const [select, kind, label] of [[camSel, "videoinput", gettext("摄像头")], [micSel, "audioinput", gettext("麦克风")]]) {
    const list = devices.filter((d) => d.kind === kind);
    select.innerHTML = list.map((d, i) => `<option value="${d.deviceId}">${(d.label || `${label} ${i + 1}`).replace(/[<>&"]/g, "")}</option>`).join("");
    const want = kind === "videoinput" ? chosen.video : chosen.audio;
    if (want && list.some((d) => d.deviceId === want)) select.value = want;
  }
}

function level(track) {
  audioCtx = new AudioContext();
  const analyser = audioCtx.createAnalyser();
  analyser.fftSize = 512;
  audioCtx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    meter.value = Math.min(100, Math.round(peak / 1.28));
    window.ywMicLevel = meter.value;
    frame = requestAnimationFrame(tick);
  };
  tick();
}

async function start() {
  stop();
  say("");
  const chosen = prefs();
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: chosen.video ? { deviceId: { ideal: chosen.video } } : true,
      audio: chosen.audio ? { deviceId: { ideal: chosen.audio } } : true,
    });
  } catch (err) {
    say(explain(err));
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e) { stream = null; }
  }
  video.srcObject = stream;
  const mic = stream && stream.getAudioTracks()[0];
  if (mic) level(mic);
  await fill();
  box.dataset.ready = "1";
}

function save() {
  localStorage.setItem("yw.devices", JSON.stringify({ video: camSel.value || "", audio: micSel.value || "" }));
}

if (box) {
  box.addEventListener("toggle", () => (box.open ? start() : stop()));
  camSel.addEventListener("change", () => { save(); start(); });
  micSel.addEventListener("change", () => { save(); start(); });
  const remember = () => sessionStorage.setItem("yw.join", JSON.stringify({ muted: muted.checked, cameraOff: camOff.checked }));
  muted.addEventListener("change", remember);
  camOff.addEventListener("change", remember);
  window.addEventListener("pagehide", stop);
}
