"""Progress of a matrix run on the terminal: which configuration, time elapsed, the live figures.

On a terminal the status line is rewritten in place about once a second; into a
file or a CI log a status line is printed every STATUS_EVERY_S seconds instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from loadtest.runner import LiveStats

STATUS_EVERY_S = 10.0
WAITING = "waiting for the first statistics"


def format_duration(seconds: float) -> str:
    """Seconds as "42s", "3m05s" or "1h02m"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def live_figures(live: LiveStats | None, users: bool = True) -> str:
    """A Locust run's live figures for a status line: "5 users, 18 req/s, p95 11 ms, 0 failed".

    A figure Locust has not formed (None, ``loadtest.runner.read_live``) is not shown: the
    requests so far stand in for the rate ("5 users, 21 requests so far, 0 failed"), and the p95
    is left out. ``WAITING`` before Locust wrote a row with users or requests; ``users=False``
    leaves the user count out.
    """
    if live is None:
        return WAITING
    figures = [f"{live.users} users"] if users else []
    figures.append(f"{live.requests} requests so far" if live.requests_per_s is None
                   else f"{live.requests_per_s:.0f} req/s")
    if live.p95_ms is not None:
        figures.append(f"p95 {live.p95_ms:.0f} ms")
    figures.append(f"{live.failures} failed")
    return ", ".join(figures)


class Progress:
    """Report "configuration k of n", the elapsed time and a status line while a run goes on."""

    def __init__(self, total: int, stream: TextIO = sys.stdout) -> None:
        self.total = total
        self.stream = stream
        self.started = time.monotonic()
        self.interactive = stream.isatty()
        self._last_status = 0.0
        self._status_shown = False

    def prefix(self, position: int) -> str:
        """"[k/n  elapsed]" for configuration ``position`` of the run."""
        return f"[{position}/{self.total} {format_duration(time.monotonic() - self.started)}]"

    def line(self, text: str) -> None:
        """Print a line that stays (ending any status line first)."""
        if self._status_shown:
            self.stream.write("\n")
            self._status_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def status(self, position: int, text: str) -> None:
        """Show the live status of configuration ``position``; throttled when not on a terminal."""
        now = time.monotonic()
        if self.interactive:
            self.stream.write(f"\r\033[K{self.prefix(position)} {text}")
            self.stream.flush()
            self._status_shown = True
        elif now - self._last_status >= STATUS_EVERY_S:
            self.stream.write(f"{self.prefix(position)} {text}\n")
            self.stream.flush()
        else:
            return
        self._last_status = now
