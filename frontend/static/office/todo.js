// The workbench refetches its panels whenever an event arrives or the connection comes back:
// the server renders them once (same template), the page swaps the #workbench element.
const bench = document.getElementById("workbench");
let pending = null;

async function refetch() {
  if (!bench) return;
  const res = await fetch(bench.dataset.refetch, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
  if (!res.ok) return;
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  const fresh = doc.getElementById("workbench");
  if (fresh) bench.innerHTML = fresh.innerHTML;
}

function soon() {  // a burst of events refetches once
  clearTimeout(pending);
  pending = setTimeout(refetch, 150);
}
document.addEventListener("yw:event", soon);
document.addEventListener("yw:resync", soon);
