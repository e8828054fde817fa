"""A small progress bar for long management commands (no dependency).

On a terminal it is redrawn in place; elsewhere (a log, a pipe) it is written once, when full,
so that every bar appears once in the output of `make run`."""
import sys
import time


class ProgressBar:
    def __init__(self, total, label="", stream=None, width=30):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._shown = -1  # the last value drawn: a bar is drawn at 100% once
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def advance(self, n=1):
        self.update(self.done + n)

    def update(self, done):
        self.done = min(done, self.total)
        if not self.tty:
            return  # not a terminal (a log, a pipe): the bar is written once, by finish()
        now = time.monotonic()
        if self.done < self.total and now - self._last < 0.1:
            return
        if self.done == self._shown:
            return
        self._last = now
        self._shown = self.done
        filled = int(self.width * self.done / self.total)
        pct = 100 * self.done / self.total
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {pct:5.1f}% {self.done}/{self.total}"
        self.stream.write("\r" + line)
        self.stream.flush()

    def finish(self):
        elapsed = time.monotonic() - self.started
        if not self.tty:
            self.stream.write(f"{self.label} [{'#' * self.width}] 100.0% {self.total}/{self.total} ({elapsed:.1f}s)\n")
            self.stream.flush()
            return
        self._last = 0
        self.update(self.total)
        self.stream.write(f" ({elapsed:.1f}s)\n")
        self.stream.flush()
