"""Progress of a matrix run on the terminal: which configuration, time elapsed, the live figures.

On a terminal the status line is rewritten in place about once a second; into a
file or a CI log a status line is printed every STATUS_EVERY_S seconds instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

STATUS_EVERY_S = 10.0


def format_duration(seconds: float) -> str:
    """Seconds as "42s", "3m05s" or "1h02m"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


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
