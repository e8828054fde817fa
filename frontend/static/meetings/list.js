// The meeting list reloads (debounced) when any meeting event arrives: invited, started, ended …
let timer = null;
document.addEventListener("yw:event", (e) => {
  if (!e.detail || e.detail.type !== "meeting" || e.detail.op === "chat" || e.detail.op === "roster") return;
  clearTimeout(timer);
  timer = setTimeout(() => location.reload(), 800);
});
