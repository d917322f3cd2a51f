"""Service settings from environment variables, with the defaults the README documents."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from training.artifact import DEFAULT_MODEL_DIR

DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_MAX_BODY_BYTES = 1_048_576  # 1 MiB: a full batch of 1000 rows is about 110 KB
DEFAULT_LOG_LEVEL = "INFO"

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
        raw = environ.get(variable)
        if raw in (None, ""):
            config[key] = default
            continue
        try:
            config[key] = parse(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r} is not a valid {parse.__name__}") from None
        if parse is int and config[key] < 1:
            raise ConfigError(f"{variable} must be at least 1, got {raw}")
    return config
