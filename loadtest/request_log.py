"""Every request of a run as one CSV row: ``--request-log PATH``.

Locust's own statistics add requests up per name over the whole run; an
overload run needs them per moment and per outcome (how fast were the 503s in
the second step, when was the last non-2xx after the load fell). Columns:
``start_s`` (seconds from the test's start, when the rate schedule starts),
``response_time_ms`` (Locust's, to the end of the answer), ``status`` (0 when
no HTTP answer came), ``name`` (Locust's request name) and ``error`` (for status
0, the exception's class: ``ConnectionResetError``, ``ConnectionRefusedError``).
Written by the process that makes the requests: a local run, not a distributed one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

COLUMNS = ("start_s", "response_time_ms", "status", "name", "error")


class RequestLog:
    """A listener of Locust's ``request`` event writing one row per request into ``path``."""

    def __init__(self, path: Path) -> None:
        self.started = 0.0
        self._file = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)

    def start(self, started: float) -> None:
        """Count ``start_s`` from ``started`` (Unix time)."""
        self.started = started

    def on_request(self, name: str, response_time: float, response: Any = None, exception: BaseException | None = None,
                   start_time: float | None = None, **_: Any) -> None:
        """Locust's ``request`` event handler."""
        status = getattr(response, "status_code", 0) or 0
        started = start_time if start_time is not None else self.started
        # A failure the locustfile marked wraps the client's own error, which FastHttpUser keeps on the response.
        cause = getattr(response, "error", None) or exception
        error = type(cause).__name__ if status == 0 and cause is not None else ""
        self._writer.writerow((f"{started - self.started:.4f}", f"{response_time:.2f}", status, name, error))

    def close(self) -> None:
        self._file.close()
