"""Shared fixtures: a model trained into a temporary directory, the app, its client, models fitted elsewhere
and packaged, a Docker engine and a Compose project for the scale experiments' end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from stack.compose import Compose, StackError
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

SEED_REQUEST = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


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


def docker_engine_reachable() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    if probe.returncode != 0:
        return f"no Docker engine reachable: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'docker info failed'}"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip the test when no Docker engine answers; fail instead when REQUIRE_DOCKER=1."""
    reason = docker_engine_reachable()
    if reason is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(f"needs Docker: {reason} (set REQUIRE_DOCKER=1 to make this a failure)")


@pytest.fixture
def project(docker_engine) -> str:
    """A Compose project name and image tag for one test; removes whatever is left of both afterwards."""
    root = Path(__file__).resolve().parent.parent
    name = f"api-inference-exp-test-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(StackError):  # nothing to remove, or nothing more to do about it
        Compose(name, root).down()
    subprocess.run(["docker", "image", "rm", f"api-inference:{name}"], capture_output=True, timeout=60)
