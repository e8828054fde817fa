#!/usr/bin/env python
"""Start daphne and say "listening on http://HOST:PORT/" once it answers (not before).

Usage: python scripts/serve.py HOST PORT. Ctrl-C stops daphne; its exit status is ours.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def main(host, port):
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "asgi:application"])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: proc.send_signal(s))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "login/", timeout=2):
                break
        except urllib.error.HTTPError:
            break  # it answered
        except OSError:
            time.sleep(0.2)
    if proc.poll() is None:
        print(f"listening on {url}", flush=True)
    return proc.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: serve.py HOST PORT")
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
