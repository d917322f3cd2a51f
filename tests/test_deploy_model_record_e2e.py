"""`python -m deploy run` on a real Docker engine records the model its replicas served, and a resume that
finds another one refuses to measure it.

One configuration of the smoke matrix (12 s of load) serving a packaged wine classifier, then one resumed attempt
that stops once the stack is ready: about a minute and a half with the image built.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import ROOT, free_port
from deploy.rundir import PLAN_FILE
from tests.conftest import SMOKE_MATRIX, left_behind

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUN_TIMEOUT_S = 420


def deploy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploy", "run", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)


def test_a_run_records_the_served_model_and_a_resume_refuses_another(project, packaged, tmp_path):
    model_dir = Path(shutil.copytree(packaged("wine")[1], tmp_path / "wine"))
    model_dir.chmod(0o755)  # the replicas run as user 10001: the mounted directory must be theirs to read
    for path in model_dir.iterdir():
        path.chmod(0o644)
    out = tmp_path / "out"
    stack = ["--project", project, "--port", str(free_port()), "--image", f"api-inference:{project}",
             "--ready-timeout", "90"]
    completed = deploy(str(SMOKE_MATRIX), "--only", "1", "--out", str(out), "--model-dir", str(model_dir), *stack)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (run_dir,) = list(out.iterdir())
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    served = {"name": metadata["name"], "version": metadata["version"], "task": metadata["task"]}
    plan = json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8"))
    assert (plan["model"], plan["model_dir"]) == (served, str(model_dir.resolve()))
    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert (document["model"], document["model_dir"]) == (served, str(model_dir.resolve()))
    assert [row["model"] for row in document["configurations"]] == [served]
    said = f"Model: {served['name']} {served['version']} ({served['task']}), the artifact mounted from `{model_dir.resolve()}`"
    assert said in (run_dir / "results.md").read_text(encoding="utf-8") and said in completed.stdout

    # The plan now says another version was measured: the resumed configuration serves the artifact's.
    (run_dir / PLAN_FILE).write_text(json.dumps(plan | {"model": served | {"version": "000000000000"}}), encoding="utf-8")
    resumed = deploy("--resume", str(run_dir), "--redo", "1", "--no-build", *stack)
    assert resumed.returncode == 2, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert resumed.stderr.strip().splitlines()[-1] == (
        f"error: {run_dir} measured {served['name']} 000000000000 ({served['task']}), but "
        f"{document['configurations'][0]['name']} serves {served['name']} {served['version']} ({served['task']}): "
        "resume it with the model it measured, or start a new run")
    # Only the attempt set aside has a result: nothing was measured on another model.
    assert not (run_dir / document["configurations"][0]["artifacts"] / "result.json").exists()
    assert left_behind(project) == []
