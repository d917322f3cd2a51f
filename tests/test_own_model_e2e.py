"""Models of one's own on a real Docker engine: packaged by ``python -m training package`` (its ``main``,
in this process, by the session's ``packaged`` fixture), mounted into the stock image (compose.yaml's
``API_MODEL_DIR``), answering as scikit-learn does, driven by the load test, and run through the smoke matrix
by ``python -m deploy run --model-dir``; or built into an image by ``make build MODEL_DIR=DIR``, which refuses
an artifact of another scikit-learn.

The stock image is built once for the module under a tag of its own; each stack
runs under a Compose project of its own on a free localhost port and is torn
down (stack and tag) even when a test fails. About a minute with the image
layers cached: two stacks started side by side with 8 s of load each,
one configuration of the smoke matrix with its load cut to SMOKE_LOAD_S and two
builds that share the cached layers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests

from bench.server import ROOT, free_port
from loadtest.runner import failures_by_name, headless_command, run_locust
from stack.compose import Compose, environment
from stack.http import answers
from stack.wait import wait_until
from tests.conftest import SMOKE_MATRIX, left_behind

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BUILD_TIMEOUT_S = 900
UP_TIMEOUT_S = 180
RUN_TIMEOUT_S = 420
READY_TIMEOUT_S = 60.0
LOAD_S = 8
# The smoke matrix's load, seconds: enough for requests to be counted and the model's line to be logged.
SMOKE_LOAD_S = 5
# The classifier and the regressor (tests/own_models.py).
MODELS = ("wine", "diabetes")


@pytest.fixture(scope="module")
def stock_image(docker_engine) -> Iterator[str]:
    """The project's image as ``make build`` makes it (Iris trained in), under a tag of its own."""
    tag = f"api-inference:own-model-test-{uuid.uuid4().hex[:8]}"
    built = subprocess.run(["docker", "build", "--quiet", "-t", tag, "."], cwd=ROOT, capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, timeout=60)


def mountable(artifact: Path) -> Path:
    """``artifact``, readable by the replicas' user (10001), which the mounted directory must be."""
    artifact.chmod(0o755)
    return artifact


@contextmanager
def mounted_stack(image: str, artifact: Path) -> Iterator[str]:
    """``image`` with ``artifact`` mounted, one replica behind Nginx, until healthy; yields Nginx's URL. Removed
    on exit, leaving no container behind."""
    port = free_port()
    compose = Compose(f"own-model-test-{uuid.uuid4().hex[:8]}", ROOT,
                      environment(port=port, replicas=1, cpus=1.0, image=image, model_dir=artifact))
    try:
        compose.run("up", "--detach", "--no-build", "--wait", timeout_s=UP_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}"
    finally:
        compose.down()
    assert left_behind(compose.project) == []


@pytest.fixture(scope="module")
def stacks(stock_image: str, packaged) -> Iterator[dict[str, str]]:
    """A stack for each of MODELS, packaged by the command's ``main``, started side by side: Nginx's URL by model."""
    with ExitStack() as running:
        with ThreadPoolExecutor(len(MODELS)) as pool:
            starts = {name: pool.submit(running.enter_context, mounted_stack(stock_image, mountable(packaged(name)[1])))
                      for name in MODELS}
        yield {name: start.result() for name, start in starts.items()}


@pytest.mark.parametrize("name", MODELS)
def test_the_mounted_model_answers_as_scikit_learn_and_holds_a_short_load_test(name: str, packaged,
                                                                                stacks: dict[str, str],
                                                                                tmp_path: Path) -> None:
    model, artifact = packaged(name)
    stack = stacks[name]
    metadata = json.loads((artifact / "metadata.json").read_text())
    ready = requests.get(f"{stack}/ready", timeout=10).json()
    assert (ready["model_name"], ready["model_version"]) == (model.name, metadata["version"])
    rows = metadata["sample"]
    answer = requests.post(f"{stack}/predict", json={"instances": rows}, timeout=10)
    assert answer.status_code == 200, answer.text
    X = np.array([[row[name] for name in model.feature_names] for row in rows])
    served = [row["prediction"] for row in answer.json()["predictions"]]
    expected = model.estimator.predict(X).tolist()
    if isinstance(served[0], str):
        assert served == expected
    else:
        assert served == pytest.approx(expected, rel=1e-9)

    # From the project directory, so with locust.conf. Latency objectives no answer misses: the run is judged
    # on its failures, and on the generator's self-watch, which a busy host can trip (exit 1, and the verdict says so).
    command = headless_command(ROOT / "loadtest" / "locustfile.py", stack, users=4, spawn_rate=4, run_time_s=LOAD_S,
                               directory=tmp_path, options=("--batch-share", "0.3", "--invalid-share", "0.1",
                                                            "--slo-p95-ms", "10000", "--slo-p99-ms", "10000",
                                                            "PredictApiUser", "OpenInferenceUser"))
    run = run_locust(command, tmp_path, LOAD_S, cwd=ROOT)
    log = run.log.read_text()
    assert run.exit_code == (1 if run.generator_saturated else 0), log[-3000:]
    assert f"model {model.name}: {metadata['task']}" in log
    failures = failures_by_name(run.stats_csv)
    assert {"/predict single", "/predict batch", "/predict invalid", "/v2 infer single"} <= set(failures), failures
    assert sum(failures.values()) == 0, failures


def test_the_smoke_matrix_runs_on_a_mounted_regressor(stock_image: str, packaged, tmp_path: Path) -> None:
    # One model through the matrix is enough; the regressor is the one least like Iris. The matrix's second
    # configuration (0.5 CPU) starts its replica faster than the first (0.25 CPU).
    artifact = mountable(packaged("diabetes")[1])
    matrix = tmp_path / "smoke-short.toml"
    text, replaced = re.subn(r"^duration_s = .*$", f"duration_s = {SMOKE_LOAD_S}",
                             SMOKE_MATRIX.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert replaced == 1
    matrix.write_text(text, encoding="utf-8")
    project = f"own-model-test-{uuid.uuid4().hex[:8]}"
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "deploy", "run", str(matrix), "--only", "2", "--out", str(tmp_path / "out"),
             "--project", project, "--port", str(free_port()), "--image", stock_image, "--no-build",
             "--model-dir", str(artifact), "--ready-timeout", "90"],
            cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    finally:
        Compose(project, ROOT).down()
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (run_dir,) = list((tmp_path / "out").iterdir())
    (row,) = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["configurations"]
    assert row["status"] == "completed", row["reason"]
    assert row["requests"] > 0 and row["failures"] == 0, row
    log = (run_dir / row["artifacts"] / "locust.log").read_text(encoding="utf-8")
    assert "model diabetes: regression, 10 features" in log
    assert left_behind(project) == []


def test_make_build_serves_the_given_artifact_and_refuses_one_of_another_scikit_learn(docker_engine, packaged,
                                                                                       tmp_path: Path) -> None:
    model, artifact = packaged("wine")
    tag = f"api-inference:own-model-test-{uuid.uuid4().hex[:8]}"
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "model.joblib").write_bytes((artifact / "model.joblib").read_bytes())
    metadata = json.loads((artifact / "metadata.json").read_text())
    (stale / "metadata.json").write_text(json.dumps({**metadata, "versions": {**metadata["versions"],
                                                                               "scikit-learn": "1.0.0"}}))
    environment = {name: value for name, value in os.environ.items() if name != "MODEL_DIR"}
    container = None
    try:
        refused = subprocess.run(["make", "build", f"IMAGE={tag}", f"MODEL_DIR={stale}"], cwd=ROOT, env=environment,
                                 capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        assert refused.returncode != 0
        assert "model artifact was written by scikit-learn 1.0.0 but" in refused.stdout + refused.stderr
        assert not (ROOT / ".image-model").exists()

        built = subprocess.run(["make", "build", f"IMAGE={tag}", f"MODEL_DIR={artifact}"], cwd=ROOT, env=environment,
                               capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        assert built.returncode == 0, built.stderr[-3000:]
        port = free_port()
        container = subprocess.run(["docker", "run", "--detach", "--publish", f"127.0.0.1:{port}:8000", tag],
                                   capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        assert ready_body(f"http://127.0.0.1:{port}")["model_name"] == model.name
    finally:
        if container:
            subprocess.run(["docker", "rm", "--force", container], capture_output=True, timeout=60)
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, timeout=60)


def ready_body(url: str) -> dict:
    """``GET /ready``'s body once it answers 200; fails the test after READY_TIMEOUT_S."""
    assert wait_until(lambda: answers(f"{url}/ready"), READY_TIMEOUT_S, interval_s=0.5), \
        f"{url}/ready did not answer 200 within {READY_TIMEOUT_S:g} s"
    return requests.get(f"{url}/ready", timeout=10).json()
