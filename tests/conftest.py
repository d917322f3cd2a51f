"""Shared fixtures: a model trained into a temporary directory, the app, its client, models fitted elsewhere
and packaged, a Docker engine and a Compose project for the scale experiments' end-to-end tests; and what
several test modules share: example rows, the smoke matrix, the files a run writes, and the containers
a Compose project left behind."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from deploy.containers import PROJECT_LABEL
from stack.compose import Compose, StackError, engine_unavailable_reason
from tests import own_models
from training.artifact import save_artifact
from training.data import load_dataset
from training.train import TrainingParams, train

# Tests use Locust's classes (load shapes, users) but run load only in
# subprocesses. Imported plainly, Locust would monkey-patch threads, sockets and
# subprocess with gevent for the whole session (locust/__init__.py); import it
# once, unpatched, and drop the variable so Locust subprocesses patch as usual.
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: E402,F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

ROOT = Path(__file__).resolve().parent.parent
SEED_REQUEST = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}
VIRGINICA = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
SMOKE_MATRIX = ROOT / "deploy" / "matrices" / "smoke.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What an experiment keeps of each Locust run (loadtest.runner: CSV files, the HTML report, the verdict, the log).
LOCUST_FILES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv",
                "locust.html", "locust_verdict.json", "locust.log")


def with_(**changes):
    """The seed request with ``changes``, as JSON text."""
    return json.dumps({**SEED_REQUEST, **changes})


def without(name):
    """The seed request without field ``name``, as JSON text."""
    return json.dumps({k: v for k, v in SEED_REQUEST.items() if k != name})


def row(**changes):
    """The seed request with ``changes``."""
    return {**SEED_REQUEST, **changes}


# (name, raw body, status, error code, field named, words in the message)
BAD_BODIES = [
    ("malformed JSON", b'{"sepal_length": 5.1,', 400, "invalid_json", None, "not valid JSON"),
    ("truncated JSON", b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_len', 400, "invalid_json", None, "not valid JSON"),
    ("empty body", b"", 400, "invalid_json", None, "empty"),
    ("whitespace body", b"  \n", 400, "invalid_json", None, "empty"),
    ("array body", b"[5.1, 3.5, 1.4, 0.2]", 400, "bad_request", "body", "JSON object, got array"),
    ("string body", b'"hello"', 400, "bad_request", "body", "got string"),
    ("number body", b"42", 400, "bad_request", "body", "got number"),
    ("null body", b"null", 400, "bad_request", "body", "got null"),
    ("missing field", without("petal_width").encode(), 400, "validation_error", "petal_width", "Missing data"),
    ("unknown field", with_(stem_length=3.0).encode(), 400, "validation_error", "stem_length", "Unknown field"),
    ("non-numeric value", with_(sepal_length="long").encode(), 400, "validation_error", "sepal_length", "got string"),
    ("numeric string", with_(sepal_length="5.1").encode(), 400, "validation_error", "sepal_length", "got string"),
    ("boolean", with_(sepal_width=True).encode(), 400, "validation_error", "sepal_width", "got boolean"),
    ("null value", with_(petal_length=None).encode(), 400, "validation_error", "petal_length", "null"),
    ("nested object", with_(petal_width={"cm": 0.2}).encode(), 400, "validation_error", "petal_width", "got object"),
    ("nested array", with_(petal_width=[0.2]).encode(), 400, "validation_error", "petal_width", "got array"),
    ("NaN literal", b'{"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', 400, "invalid_json", None, "NaN"),
    ("Infinity literal", b'{"sepal_length": Infinity, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', 400, "invalid_json", None, "Infinity"),
    ("-Infinity literal", b'{"sepal_length": -Infinity, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', 400, "invalid_json", None, "Infinity"),
    ("overflowing float", b'{"sepal_length": 1e999, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', 400, "invalid_json", None, "out of range"),
    ("overflowing integer", ('{"sepal_length": 1' + "0" * 400 + ', "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}').encode(), 400, "validation_error", "sepal_length", "too large"),
    ("integer past the digit limit", ('{"sepal_length": ' + "9" * 5000 + "}").encode(), 400, "invalid_json", None, "value has 5000 digits"),
    ("byte order mark", b"\xef\xbb\xbf" + json.dumps(SEED_REQUEST).encode(), 400, "invalid_json", None, "byte order mark"),
    ("unterminated string", b'{"sepal_length', 400, "invalid_json", None, "Unterminated string starting at line 1 column 2"),
    ("control character in a string", b'{"sepal\nlength": 5.1}', 400, "invalid_json", None, "Invalid control character at line 1 column 8"),
    ("negative measurement", with_(sepal_length=-5.1).encode(), 400, "validation_error", "sepal_length", "greater than 0"),
    ("zero measurement", with_(petal_width=0).encode(), 400, "validation_error", "petal_width", "greater than 0"),
    ("absurd measurement", with_(sepal_length=5100.0).encode(), 400, "validation_error", "sepal_length", "at most 30"),
    ("duplicate keys", b'{"sepal_length": 5.1, "sepal_length": 9.9, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', 400, "invalid_json", "sepal_length", "more than once"),
    ("invalid UTF-8", b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "\xff": 1}', 400, "invalid_json", None, "UTF-8"),
    ("deeply nested", b"[" * 5_000 + b"]" * 5_000, 400, "invalid_json", None, "nested too deeply"),
    ("empty batch", b'{"instances": []}', 400, "validation_error", "instances", "at least one"),
    ("batch not a list", b'{"instances": {"a": 1}}', 400, "validation_error", "instances", "Not a valid list"),
    ("batch with one bad row", json.dumps({"instances": [row(), row(), row(petal_width="x")]}).encode(), 400, "validation_error", "instances[2].petal_width", "got string"),
    ("batch row not an object", json.dumps({"instances": [row(), 7]}).encode(), 400, "validation_error", "instances[1]", "Must be an object with sepal_length, sepal_width, petal_length and petal_width."),
    ("batch beside features", json.dumps({"instances": [row()], "sepal_length": 5.1}).encode(), 400, "validation_error", "sepal_length", "Unknown field"),
    ("oversized batch", json.dumps({"instances": [row()] * 51}).encode(), 413, "batch_too_large", "instances", "over the limit of 50"),
    ("body over the limit", b'{"pad": "' + b"x" * 20_000 + b'"}', 413, "payload_too_large", None, "over the limit"),
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logistic-regression artifact trained on Iris, shared by the session (read-only)."""
    directory = tmp_path_factory.mktemp("model")
    result = train(load_dataset(), TrainingParams("logistic_regression"))
    save_artifact(result.model, result.metadata, directory)
    return directory


@pytest.fixture
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the artifact that a test may damage."""
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


@pytest.fixture
def not_ready_client(model_copy: Path):
    """A client of an app whose model fails its start-up self-test: the metadata records wrong expected
    classes (the artifact's hash covers model.joblib, not the metadata)."""
    from service import create_app

    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["self_test"]["expected_class_ids"] = [2, 2, 2]
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    return create_app({"TESTING": True, "MODEL_DIR": str(model_copy)}).test_client()


@pytest.fixture
def app(model_dir: Path):
    from service import create_app

    return create_app({"TESTING": True, "MODEL_DIR": str(model_dir), "MAX_BATCH_SIZE": 50, "MAX_CONTENT_LENGTH": 16_384})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory):
    """``packaged(name)``: (the fitted ``OwnModel``, its artifact directory) for "wine", "wine-ridge"
    or "diabetes", fitted, saved and packaged once for the session (read-only)."""
    makers = {"wine": own_models.wine, "wine-ridge": own_models.wine_without_probabilities,
              "diabetes": own_models.diabetes}
    done: dict[str, tuple[own_models.OwnModel, Path]] = {}

    def get(name: str) -> tuple[own_models.OwnModel, Path]:
        if name not in done:
            directory = tmp_path_factory.mktemp(name)
            model = makers[name](directory)
            # The directory's name is the model's name (the command's default).
            assert own_models.package(model, directory / name) == 0
            done[name] = (model, directory / name)
        return done[name]

    return get


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip the test when no Docker engine answers; fail instead when REQUIRE_DOCKER=1."""
    reason = engine_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(f"needs Docker: {reason} (set REQUIRE_DOCKER=1 to make this a failure)")


@pytest.fixture
def project(docker_engine) -> str:
    """A Compose project name and image tag for one test; removes whatever is left of both afterwards."""
    name = f"api-inference-exp-test-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(StackError):  # nothing to remove, or nothing more to do about it
        Compose(name, ROOT).down()
    subprocess.run(["docker", "image", "rm", f"api-inference:{name}"], capture_output=True, timeout=60)


def left_behind(project: str) -> list[str]:
    """The names of the containers, running or not, that Compose project ``project`` still has."""
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})]
    finally:
        client.close()


def parse_options(args: list[str], env: dict[str, str] | None = None, config: Path | None = None) -> argparse.Namespace:
    """Locust's real option parser with the load test's options, as ``locust`` builds it.

    Imports Locust here, after the unpatched import above, so importing this module patches nothing."""
    from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

    from loadtest.options import add_arguments

    parser = get_empty_argument_parser(add_help=False, default_config_files=[str(config)] if config else [])
    setup_parser_arguments(parser)
    add_arguments(parser)
    return parser.parse_args(args, env_vars=env or {})
