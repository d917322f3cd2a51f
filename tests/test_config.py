"""Settings from environment variables."""

from __future__ import annotations

import pytest

from service.config import DEFAULT_MAX_BATCH_SIZE, ConfigError, from_env


def test_defaults() -> None:
    config = from_env({})
    assert config["MODEL_DIR"] == "models/iris"
    assert config["MAX_BATCH_SIZE"] == DEFAULT_MAX_BATCH_SIZE
    assert config["MAX_CONTENT_LENGTH"] == 1_048_576
    assert config["LOG_LEVEL"] == "INFO"


def test_overrides() -> None:
    config = from_env({"MODEL_DIR": "/m", "MAX_BATCH_SIZE": "10", "MAX_BODY_BYTES": "2048", "LOG_LEVEL": "debug"})
    assert (config["MODEL_DIR"], config["MAX_BATCH_SIZE"], config["MAX_CONTENT_LENGTH"], config["LOG_LEVEL"]) == ("/m", 10, 2048, "DEBUG")


@pytest.mark.parametrize(("variable", "value"), [("MAX_BATCH_SIZE", "ten"), ("MAX_BATCH_SIZE", "0"), ("MAX_BODY_BYTES", "-1")])
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_B"):
        from_env({variable: value})
