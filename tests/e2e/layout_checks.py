"""Layout checks shared by the browser tests (this module holds no tests itself)."""

# Every visible control in the first screen can be reached: the element at its centre is the
# control itself (or inside it, or a container that clips it). Anything else there is drawn over it —
# a sticky top bar, the action bar, the meeting room's toolbar. Returns "control under cover" lines.
COVERED_JS = """() => {
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const out = [];
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, video, [role=button]');
  for (const el of controls) {
    const r = el.getClientRects()[0];  // an inline link that wraps: its first line box
    if (!r || r.width < 2 || r.height < 2) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.pointerEvents === 'none') continue;
    const shut = el.closest('details:not([open])');  // a closed <details> shows its summary only
    if (shut && !(el.closest('summary') && el.closest('summary').parentElement === shut)) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    let clipped = false;  // scrolled out of view inside a scrolling box: not shown, so not covered
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ps = getComputedStyle(p);
      if (ps.overflowX === 'visible' && ps.overflowY === 'visible') continue;
      const b = p.getBoundingClientRect();
      if (x < b.left || x > b.right || y < b.top || y > b.bottom) { clipped = true; break; }
    }
    if (clipped) continue;
    const top = document.elementFromPoint(x, y);
    if (!top || el.contains(top) || top.contains(el)) continue;
    if (el.labels && [...el.labels].some((l) => l.contains(top))) continue;
    out.push(name(el) + ' "' + (el.textContent || el.value || '').trim().slice(0, 20) + '" under ' + name(top));
  }
  return out.slice(0, 5);
}"""

# The sideways overflow of a page: [] or the widest offenders.
SIDEWAYS_JS = """(w) => {
  if (document.documentElement.scrollWidth <= w) return [];
  return [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect(); return r.right > w + 1 && r.width > 0;
  }).slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id);
}"""


def covered(page):
    return page.evaluate(COVERED_JS)


def sideways(page, width):
    if page.evaluate("document.documentElement.scrollWidth") <= width:
        return []
    return page.evaluate(SIDEWAYS_JS, width) or ["(the document is wider than the window)"]


# Counts the page's fetches in flight (window.__ywPending): a check waits for the scripts' data.
PENDING_INIT = """(() => {
  window.__ywPending = 0;
  const real = window.fetch;
  window.fetch = function (...args) {
    window.__ywPending += 1;
    return real.apply(this, args).finally(() => { window.__ywPending -= 1; });
  };
})();"""


def settle(page, timeout=5000):
    """Wait until the page's scripts have their data (no fetch in flight) and have drawn it."""
    page.wait_for_function("window.__ywPending === 0", timeout=timeout, polling=50)
    page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
