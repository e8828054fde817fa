"""Benchmark: the main pages in Chromium on a slow line (400 kbit/s down, 150 kbit/s up, 400 ms RTT).

    .venv/bin/python bench/bench_pages.py

A throwaway SQLite database (temp folder) gets the small test organisation (office.seed
build_small); daphne serves asgi.application; Debian's Chromium (Playwright) signs in as
county_secretary with network emulation through the DevTools protocol
(Network.emulateNetworkConditions). Each page is loaded twice in a fresh browser context after
signing in: "first" (the sign-in page has already cached the shell's stylesheet and scripts, the
page's own assets are fetched) and "again" (everything static from the cache: its URLs are
versioned and kept for a year). Bytes include the page's API calls (the 待办 count). Reported per page: largest contentful paint (LCP,
PerformanceObserver, buffered) and bytes transferred (sum of encodedDataLength of every response).
Goal: LCP < 2.5 s. The machine is shared: figures are noisy.
"""
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
PAGES = ["/", "/documents/", "/documents/?box=outbox", "/documents/new/", "/meetings/", "/directory/", "/me/"]
LCP_JS = """() => new Promise((resolve) => {
  let last = 0;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) last = e.startTime; })
    .observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(last), 300);
})"""


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    var = Path(tempfile.mkdtemp(prefix="yw-bench-pages-"))
    env = {**os.environ, "YW_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "office.settings", "YW_JOBS_IN_PROCESS": "0"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([PY, "manage.py", "shell", "-c", "from office.seed import build_small; build_small()"],
                   cwd=BASE_DIR, env=env, check=True)
    port = free_port()
    server = subprocess.Popen([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "asgi:application"],
                              cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        rows = measure(base)
    finally:
        server.terminate()
        server.wait(10)
    print("| page | first LCP (s) | first KB | again LCP (s) | again KB | LCP < 2.5 s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for url, cold, warm in rows:
        ok = "yes" if max(cold[0], warm[0]) < 2.5 else "no"
        print(f"| {url} | {cold[0]:.2f} | {cold[1] / 1024:.1f} | {warm[0]:.2f} | {warm[1] / 1024:.1f} | {ok} |")
    return 0


def measure(base):
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for url in PAGES:
            ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
            page = ctx.new_page()
            page.goto(base + "/login/")
            page.fill("#id_username", "county_secretary")
            page.fill("#id_password", "Demo-2026!")
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
            cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": 400, "downloadThroughput": 400 * 1000 / 8, "uploadThroughput": 150 * 1000 / 8})
            sizes = []
            cdp.on("Network.loadingFinished", lambda e: sizes.append(e.get("encodedDataLength", 0)))
            results = []
            for _visit in ("cold", "warm"):
                sizes.clear()
                page.goto(base + url, wait_until="load")
                page.wait_for_timeout(300)
                lcp = page.evaluate(LCP_JS) / 1000
                results.append((lcp, sum(sizes)))
            rows.append((url, results[0], results[1]))
            ctx.close()
        browser.close()
    return rows


if __name__ == "__main__":
    sys.exit(main())
