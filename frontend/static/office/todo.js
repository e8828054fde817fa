// The 待办 page refetches its list whenever an event arrives or the connection comes back.
const list = document.getElementById("todo-list");
const total = document.getElementById("todo-total");

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

async function refetch() {
  const res = await fetch(list.dataset.refetch, { credentials: "same-origin" });
  if (!res.ok) return;
  const data = await res.json();
  total.textContent = String(data.count);
  if (!data.items.length) { list.innerHTML = '<li class="empty">' + gettext("暂无待办事项。") + '</li>'; return; }
  list.innerHTML = data.items.map((it) => {
    const when = it.since ? new Date(it.since).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "";
    return `<li class="todo-item kind-${esc(it.kind)}"><a href="${esc(it.url)}">${esc(it.title)}</a> <span class="muted">${it.unit ? esc(it.unit) + " · " : ""}${esc(when)}</span></li>`;
  }).join("");
}
document.addEventListener("yw:event", refetch);
document.addEventListener("yw:resync", refetch);
