// The unit tree of the administration pages: a node's children are fetched when it is first
// opened (3,500 units are never drawn at once); without script each name still leads to its page.
const LOADING = gettext("正在加载…");
const FAILED = gettext("加载失败，请重试。");

async function toggle(button) {
  const box = document.getElementById(button.getAttribute("aria-controls"));
  if (!box) return;
  const open = button.getAttribute("aria-expanded") === "true";
  if (open) {
    button.setAttribute("aria-expanded", "false");
    box.hidden = true;
    return;
  }
  if (!box.dataset.loaded) {
    button.setAttribute("aria-busy", "true");
    box.textContent = LOADING;
    box.hidden = false;
    try {
      const response = await fetch(button.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(String(response.status));
      box.innerHTML = await response.text();
      box.dataset.loaded = "1";
    } catch (err) {
      box.textContent = FAILED;
      button.removeAttribute("aria-busy");
      return;
    }
    button.removeAttribute("aria-busy");
  }
  button.setAttribute("aria-expanded", "true");
  box.hidden = false;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".tree-toggle");
  if (button) {
    event.preventDefault();
    toggle(button);
  }
});
