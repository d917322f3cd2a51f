"""Settings from environment variables."""

from __future__ import annotations

import pytest

from service.config import DEFAULT_MAX_BATCH_SIZE, ConfigError, env_int, from_env


def test_defaults() -> None:
    config = from_env({})
    assert config["MODEL_DIR"] == "models/iris"
    assert config["MAX_BATCH_SIZE"] == DEFAULT_MAX_BATCH_SIZE
    assert config["MAX_CONTENT_LENGTH"] == 1_048_576
    assert config["LOG_LEVEL"] == "INFO"


def test_overrides() -> None:
    config = from_env({"MODEL_DIR": "/m", "MAX_BATCH_SIZE": "10", "MAX_BODY_BYTES": "2048", "LOG_LEVEL": "debug"})
    assert (config["MODEL_DIR"], config["MAX_BATCH_SIZE"], config["MAX_CONTENT_LENGTH"], config["LOG_LEVEL"]) == ("/m", 10, 2048, "DEBUG")


@pytest.mark.parametrize(("variable", "value"), [
    ("MAX_BATCH_SIZE", "ten"), ("MAX_BATCH_SIZE", "0"), ("MAX_BODY_BYTES", "-1"), ("LOG_LEVEL", "loud"),
])
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        from_env({variable: value})


@pytest.mark.parametrize(("environ", "expected"), [({}, 8), ({"N": ""}, 8), ({"N": "0"}, 0), ({"N": "12"}, 12)])
def test_env_int_reads_a_whole_number_or_the_default(environ: dict[str, str], expected: int) -> None:
    assert env_int("N", 8, minimum=0, environ=environ) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("1.5", "N='1.5' is not a valid int"), ("-1", "N must be at least 0, got -1"), ("100", "N must be at most 99, got 100"),
])
def test_env_int_refuses_what_it_cannot_use(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        env_int("N", 8, minimum=0, maximum=99, environ={"N": value})
    assert str(raised.value) == message
