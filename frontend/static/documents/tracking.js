// 分发跟踪: the live table and the four-level tree coloured by state; refetched on every event.
const root = document.getElementById("tracking");
const docId = root.dataset.document;
const csrf = root.dataset.csrf;
const COLORS = { delivered: "#94a3b8", signed: "#3b82f6", returned: "#dc2626", overdue: "#f59e0b", done: "#16a34a", "": "#e5e7eb" };
let data = null;
let timer = null;

const fmt = (v) => (v ? new Date(v).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "");

function renderSummary() {
  for (const [k, v] of Object.entries(data.summary)) {
    const b = root.querySelector(`[data-count="${k}"]`);
    if (b) b.textContent = v;
  }
  document.getElementById("updated-at").textContent = gettext("更新于 ") + new Date().toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

function renderTable() {
  const q = document.getElementById("track-filter").value.trim();
  const tbody = document.querySelector("#track-table tbody");
  const frag = document.createDocumentFragment();
  for (const r of data.rows) {
    if (q && !r.unit.includes(q)) continue;
    const tr = document.createElement("tr");
    tr.dataset.receipt = r.receipt_id;
    tr.dataset.state = r.state;
    tr.className = "st-row-" + r.state;
    const cells = [r.unit, r.role === "main" ? gettext("主送") : gettext("抄送"), null, r.signed_name ? `${r.signed_name} ${fmt(r.signed_at)}` : "",
      r.registered_no, fmt(r.deadline), r.replies ? String(r.replies) : "", null];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (i === 2) {
        const tag = document.createElement("span");
        tag.className = "tag st-" + r.state;
        tag.textContent = r.state_label;
        td.appendChild(tag);
        if (r.return_reason) td.append(" " + r.return_reason);
      } else if (i === 7) {
        if (r.state !== "done" && r.state !== "returned") {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = gettext("催办");
          b.onclick = () => remind(r);
          td.appendChild(b);
        }
      } else td.textContent = c;
      tr.appendChild(td);
    });
    frag.appendChild(tr);
  }
  tbody.replaceChildren(frag);
}

async function remind(r) {
  const message = prompt(interpolate(gettext("催办 %(unit)s："), { unit: r.unit }, true), gettext("请抓紧办理并及时反馈。"));
  if (!message) return;
  const res = await fetch(`/api/documents/receipts/${r.receipt_id}/remind`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify({ message }),
  });
  const body = await res.json();
  alert(res.ok ? gettext("已催办。") : body.detail);
}

function renderTree() {
  const svg = document.getElementById("tree");
  const nodes = new Map(data.tree.map((n) => [n.id, { ...n, children: [] }]));
  const roots = [];
  for (const n of nodes.values()) {
    if (n.parent && nodes.has(n.parent)) nodes.get(n.parent).children.push(n);
    else roots.push(n);
  }
  const leaves = (n) => (n.leaves = n.children.length ? n.children.reduce((s, c) => s + leaves(c), 0) : 1);
  let total = 0;
  roots.forEach((r) => (total += leaves(r)));
  const depth = (n) => 1 + (n.children.length ? Math.max(...n.children.map(depth)) : 0);
  const levels = Math.max(1, ...roots.map(depth));
  const width = Math.max(300, svg.parentElement.clientWidth || 800);
  const rowH = 34;
  svg.setAttribute("width", width);
  svg.setAttribute("height", levels * rowH);
  svg.setAttribute("viewBox", `0 0 ${width} ${levels * rowH}`);
  const NS = "http://www.w3.org/2000/svg";
  const frag = document.createDocumentFragment();
  const per = width / Math.max(1, total);
  const place = (n, x, level) => {
    const w = n.leaves * per;
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("x", x.toFixed(2));
    rect.setAttribute("y", level * rowH);
    rect.setAttribute("width", Math.max(0.5, w - (w > 3 ? 1 : 0)).toFixed(2));
    rect.setAttribute("height", rowH - 2);
    rect.setAttribute("fill", COLORS[n.state] ?? COLORS[""]);
    rect.dataset.unit = n.id;
    rect.dataset.state = n.state || "none";
    const title = document.createElementNS(NS, "title");
    title.textContent = `${n.name}${n.state ? "：" + (data.labels[n.state] || "") : ""}`;
    rect.appendChild(title);
    frag.appendChild(rect);
    if (w > n.name.length * 13 + 6) {
      const t = document.createElementNS(NS, "text");
      t.setAttribute("x", x + 4);
      t.setAttribute("y", level * rowH + rowH / 2 + 4);
      t.setAttribute("font-size", "12");
      t.setAttribute("fill", n.state && n.state !== "delivered" ? "#fff" : "#111");
      t.textContent = n.name;
      frag.appendChild(t);
    }
    let cx = x;
    for (const c of n.children) { place(c, cx, level + 1); cx += c.leaves * per; }
  };
  let x = 0;
  for (const r of roots) { place(r, x, 0); x += r.leaves * per; }
  svg.replaceChildren(frag);
}

async function load() {
  const res = await fetch(`/api/documents/${docId}/tracking`, { credentials: "same-origin" });
  if (!res.ok) return;
  data = await res.json();
  renderSummary();
  renderTable();
  renderTree();
  root.dataset.loaded = String(Date.now());
}

document.addEventListener("yw:event", (e) => {
  const ev = e.detail || {};
  if (ev.type !== "documents" || String(ev.document) !== docId) return;
  clearTimeout(timer);
  timer = setTimeout(load, 200);
});
async function remindAll(onlyOverdue) {
  const message = prompt(onlyOverdue ? gettext("催办所有逾期单位：") : gettext("催办所有未办结单位："), gettext("请抓紧办理并及时反馈。"));
  if (!message) return;
  const res = await fetch(`/api/documents/${docId}/remind`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify({ message, only_overdue: onlyOverdue }),
  });
  const body = await res.json();
  alert(res.ok ? interpolate(gettext("已催办 %(n)s 个单位。"), { n: body.count }, true) : body.detail);
}
document.getElementById("remind-all").onclick = () => remindAll(false);
document.getElementById("remind-overdue").onclick = () => remindAll(true);
document.addEventListener("yw:resync", () => load());
document.getElementById("track-filter").addEventListener("input", () => data && renderTable());
window.addEventListener("resize", () => data && renderTree());
load();
