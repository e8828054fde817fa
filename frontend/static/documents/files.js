// Detail page, 公文文件: the 用印 button calls POST /api/documents/files/{id}/seal, then redraws
// the section from a fresh copy of the page. Delegated, so it survives live.js refreshes.
const $ = (s) => document.querySelector(s);

let last = null; // the latest message, kept when live.js redraws the page region

function show(message, isError) {
  last = message ? { message, isError } : null;
  const ok = $("#seal-result"), bad = $("#seal-error");
  if (ok) ok.textContent = isError ? "" : message;
  if (bad) {
    bad.textContent = isError ? message : "";
    bad.hidden = !isError;
  }
}

async function redraw() {
  const res = await fetch(location.href, { credentials: "same-origin" });
  if (!res.ok) return;
  const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("doc-files");
  const box = $("#doc-files");
  if (fresh && box) box.innerHTML = fresh.innerHTML;
}

async function seal(button) {
  const box = $("#doc-files");
  const id = box.dataset.document;
  button.disabled = true;
  show(gettext("正在用印，请稍候……"), false);
  let res, data = {};
  try {
    res = await fetch(`/api/documents/files/${id}/seal`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": box.dataset.csrf },
    });
    data = await res.json().catch(() => ({}));
  } catch (e) {
    button.disabled = false;
    show(gettext("网络连接失败，请稍后重试。"), true);
    return;
  }
  if (!res.ok) {
    button.disabled = false;
    show(data.detail || interpolate(gettext("用印失败（%(s)s）。"), {s: res.status}, true), true);
    return;
  }
  let message = gettext("用印完成，已生成加盖电子印章的正式文件。");
  if (!data.sealed) {
    const waiting = (data.units || []).filter((u) => !u.sealed).map((u) => u.name);
    message = interpolate(gettext("本单位已用印，等待%(units)s用印。"), {units: waiting.join(gettext("、"))}, true);
  }
  await redraw();
  show(message, false);
}

document.addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("#seal-doc");
  if (button && !button.disabled) seal(button);
});

const region = document.getElementById("doc-live");
if (region) {
  new MutationObserver(() => {
    const ok = $("#seal-result"), bad = $("#seal-error");
    if (last && ok && !ok.textContent && bad && !bad.textContent) show(last.message, last.isError);
  }).observe(region, { childList: true });
}
