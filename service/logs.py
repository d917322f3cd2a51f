"""JSON logs, one object per line on stdout, for the app and for Gunicorn.

Gunicorn's access records carry its "atoms" (a mapping of request and
response facts, see ``gunicorn.glogging.Logger.atoms``) as ``record.args``;
the formatter turns them into the access line: request id, method, path,
route, status, latency in ms.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime, timezone

# The app stores the matched URL rule here so Gunicorn's access line can name the route.
ROUTE_ENVIRON_KEY = "api_inference.route"


def _access_fields(atoms: Mapping) -> dict[str, object]:
    def atom(key: str) -> object:
        value = atoms.get(key)
        return None if value in (None, "-") else value

    latency_us = atom("D")
    return {
        "request_id": atom("{x-request-id}o"),
        "method": atom("m"),
        "path": atom("U"),
        "route": atom("{%s}e" % ROUTE_ENVIRON_KEY),
        "status": int(atoms["s"]) if atom("s") is not None else None,
        "latency_ms": round(latency_us / 1000, 3) if isinstance(latency_us, int) else None,
        "bytes": atom("B"),
        "remote_addr": atom("h"),
        "user_agent": atom("a"),
    }


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry["message"] = "request"
            entry.update(_access_fields(record.args))
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    """Send the root logger's records to stdout as JSON lines at ``level``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def gunicorn_logconfig(level: str) -> dict:
    """``logconfig_dict`` for Gunicorn: its error and access loggers as JSON on stdout."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }
