// Lists and the detail page refetch themselves when a 公文 event arrives (events are hints).
const region = document.querySelector("#doc-live") || document.querySelector("#doc-list");
let timer = null;

function busy(el) {
  const active = document.activeElement;
  if (active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
  return [...el.querySelectorAll("textarea, input[type=text], input:not([type])")].some((x) => x.value && x.value !== x.defaultValue);
}

async function refresh() {
  if (!region || busy(region)) return;
  const res = await fetch(location.href, { credentials: "same-origin" });
  if (!res.ok) return;
  const html = new DOMParser().parseFromString(await res.text(), "text/html");
  const fresh = html.getElementById(region.id);
  if (fresh) region.innerHTML = fresh.innerHTML;
}

function onEvent(e) {
  const ev = e.detail || {};
  if (e.type === "yw:event" && ev.type !== "documents") return;
  const docId = region && region.dataset.document;
  if (docId && e.type === "yw:event" && String(ev.document) !== docId) return;
  clearTimeout(timer);
  timer = setTimeout(refresh, 300);
}
document.addEventListener("yw:event", onEvent);
