// Lists that follow live events in a room of thousands (the roster, the people panel, the hand
// queue, 问答): every join, leave or hand is an event, and 3,000 pages refetching on each would
// be 3,000 requests per event. throttle() runs a refetch at most once per `ms` (plus a random
// `jitter`, so the pages of one room do not all ask in the same instant), and once more after a
// burst; debounce() waits until typing stops; latest() drops an answer that a newer one overtook.
// ms and jitter may be functions, read at each call (a page may wait longer as its room grows).
export function throttle(fn, ms, jitter = 0) {
  let last = 0;
  let timer = null;
  const value = (x) => (typeof x === "function" ? x() : x);
  return function schedule() {
    if (timer) return;
    const wait = Math.max(0, last + value(ms) - Date.now()) + Math.random() * value(jitter);
    timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function latest(load) {
  let seq = 0;
  return async (...args) => {
    const mine = ++seq;
    const out = await load(...args);
    return mine === seq ? out : undefined;
  };
}
