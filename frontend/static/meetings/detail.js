// A meeting's page reloads when something about this meeting changes (invited, updated,
// started, cancelled, check-in opened, recording saved): events are hints, the page refetches.
const root = document.getElementById("meeting-detail");
const id = root && Number(root.dataset.meeting);
let timer = null;
document.addEventListener("yw:event", (e) => {
  const ev = e.detail || {};
  if (ev.type !== "meeting" || ev.meeting !== id) return;
  if (!["updated", "started", "cancelled", "checkin", "recording", "host", "invited", "reminder"].includes(ev.op)) return;
  clearTimeout(timer);
  timer = setTimeout(() => location.reload(), 600);
});
