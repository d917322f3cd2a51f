"""Service settings from environment variables, with the defaults the README documents."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from training.artifact import DEFAULT_MODEL_DIR

DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_MAX_BODY_BYTES = 1_048_576  # 1 MiB: a full batch of 1000 rows is about 110 KB
DEFAULT_LOG_LEVEL = "INFO"
# Python logging's levels, which Gunicorn's --log-level takes too (in lower case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The app's config key under which Gunicorn's post_fork hook (service/gunicorn.conf.py) records how it
# runs the app, {"workers": int, "worker_class": str, "threads": int}, for /ready. Unset outside Gunicorn.
GUNICORN_SETTINGS = "GUNICORN"

# (environment variable, config key, parser, default)
_SETTINGS: tuple[tuple[str, str, Any, Any], ...] = (
    ("MODEL_DIR", "MODEL_DIR", str, str(DEFAULT_MODEL_DIR)),
    ("MAX_BATCH_SIZE", "MAX_BATCH_SIZE", int, DEFAULT_MAX_BATCH_SIZE),
    ("MAX_BODY_BYTES", "MAX_CONTENT_LENGTH", int, DEFAULT_MAX_BODY_BYTES),
    ("LOG_LEVEL", "LOG_LEVEL", str.upper, DEFAULT_LOG_LEVEL),
)


class ConfigError(RuntimeError):
    """An environment variable holds a value the service cannot use."""


def from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Read the service settings; raise ``ConfigError`` naming the variable on a bad value."""
    config: dict[str, Any] = {}
    for variable, key, parse, default in _SETTINGS:
        if parse is int:
            config[key] = env_int(variable, default, minimum=1, environ=environ)
            continue
        raw = environ.get(variable)
        config[key] = default if raw in (None, "") else parse(raw)
    if config["LOG_LEVEL"] not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={environ['LOG_LEVEL']!r} is not one of {', '.join(LOG_LEVELS)}")
    return config


def env_int(variable: str, default: int, *, minimum: int, maximum: int | None = None,
            environ: Mapping[str, str] = os.environ) -> int:
    """The integer in ``variable`` (``default`` when unset or empty), from ``minimum`` to ``maximum``.

    Raises ``ConfigError`` naming the variable when the value is not an integer
    or is out of that range.
    """
    raw = environ.get(variable)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r} is not a valid int") from None
    if value < minimum:
        raise ConfigError(f"{variable} must be at least {minimum}, got {raw}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{variable} must be at most {maximum}, got {raw}")
    return value
