"""JSON logs, one object per line on stdout, for the app and for Gunicorn.

The app's records and Gunicorn's own messages go through Python's logging
with ``JsonFormatter``. The access line, one per request, is written by
``AccessLogger`` (Gunicorn's ``logger_class``), straight from what Gunicorn
hands its ``access`` hook: request id, method, path, route, status, latency
in ms, bytes, client address and user agent.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from time import time
from typing import Any

import orjson
from gunicorn.glogging import Logger

# The app stores the matched URL rule and the request id here so the access line can name them.
ROUTE_ENVIRON_KEY = "api_inference.route"
REQUEST_ID_ENVIRON_KEY = "api_inference.request_id"


def iso_time(created: float, second_text: tuple[int, str] | None = None) -> tuple[str, tuple[int, str]]:
    """``created`` (Unix seconds) as ISO 8601 UTC to the millisecond, e.g.
    ``2026-12-02T07:52:00.123+00:00`` (``datetime.isoformat(timespec="milliseconds")``),
    and the ``(second, text)`` pair to pass back next time: the date and time
    of day are formatted once per second, not once per line."""
    second = int(created)
    if second_text is None or second_text[0] != second:
        second_text = (second, datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{second_text[1]}.{int((created - second) * 1000):03d}+00:00", second_text


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def access_entry(created: str, resp: Any, environ: Mapping[str, Any], request_time: timedelta) -> dict[str, object]:
    """The access line's fields for one request, from Gunicorn's response and WSGI environ.

    ``latency_ms`` is Gunicorn's request time (request parsed to response sent), in
    ms to the µs; ``bytes`` the body bytes sent. A fact Gunicorn or the app did not
    record (no route matched, no user agent) is null.
    """
    return {
        "time": created,
        "level": "info",
        "logger": "gunicorn.access",
        "message": "request",
        "request_id": environ.get(REQUEST_ID_ENVIRON_KEY),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "route": environ.get(ROUTE_ENVIRON_KEY),
        "status": resp.status_code,
        "latency_ms": round((request_time.seconds * 1_000_000 + request_time.microseconds) / 1000, 3),
        "bytes": resp.sent,
        "remote_addr": environ.get("REMOTE_ADDR") or None,
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }


class AccessLogger(Logger):
    """Gunicorn's logger with the access line written as JSON to stdout, one ``write`` per request.

    Gunicorn's own ``access`` builds a mapping of every request and response
    header and environ variable (its "atoms") and sends it through Python's
    logging; at about 40 µs a request that was the largest cost the service
    added to Flask. This builds only the fields the line has, encodes them with
    orjson and writes the line to stdout's file descriptor in one call (a write
    of at most PIPE_BUF bytes to a pipe is never interleaved with another's).
    """

    _second_text: tuple[int, str] | None = None

    def access(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        try:
            created, self._second_text = iso_time(time(), self._second_text)
            line = orjson.dumps(access_entry(created, resp, environ, request_time), default=str) + b"\n"
            descriptor = sys.stdout.fileno()
            while line:
                line = line[os.write(descriptor, line):]
        except Exception:
            self.exception("could not write the access line")


def configure(level: str) -> None:
    """Send the root logger's records to stdout as JSON lines at ``level``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def gunicorn_logconfig(level: str) -> dict:
    """``logconfig_dict`` for Gunicorn: its error logger as JSON on stdout (``AccessLogger`` writes the access lines)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
        },
    }
