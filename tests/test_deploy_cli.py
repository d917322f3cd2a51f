"""`python -m deploy`: the plan of a dry run, --only, refusals of bad input, finding a run to resume."""

from __future__ import annotations

import json
import re
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from deploy import pinning
from deploy.__main__ import main
from deploy.loadgen import locust_command
from deploy.matrix import Load, load_matrix
from deploy.pinning import Pinning
from deploy.readiness import compose_error
from deploy.results import RESULT_FILE, artifacts_dirname, load_results
from deploy.rundir import (
    DONE_FILE,
    PLAN_FILE,
    Host,
    Plan,
    create_run_dir,
    discard_unstarted,
    is_finished,
    latest_unfinished,
    set_aside,
)
from deploy.runner import locust_error, require_free_port, unfit_reason
from deploy.stack import ComposeStack
from loadtest.runner import run_locust
from loadtest.slo import Slo, read_stats_csv
from stack.compose import StackError

MATRICES = Path(__file__).resolve().parent.parent / "deploy" / "matrices"
HOST = Host(cpus=2, memory_bytes=8 * 1024**3, docker_version="27.0", cgroup_version="2", os="Debian")


def test_dry_run_prints_every_row_and_the_time_and_writes_nothing(tmp_path, capsys):
    assert main(["run", str(MATRICES / "reference.toml"), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "10 of 10 configuration(s)" in printed
    assert "load: 100 users spawned at 10/s for 60 s, shape constant" in printed
    assert "3 × 1 CPU / 512M" in printed and "total 3 CPU, 1536M" in printed
    assert "about 15 min" in printed
    assert not (tmp_path / "out").exists()


def test_only_picks_rows_by_index_and_name(tmp_path, capsys):
    assert main(["run", str(MATRICES / "reference.toml"), "--dry-run", "--only", "2,1x1.0", "--only", "1"]) == 0
    printed = capsys.readouterr().out
    assert "3 of 10 configuration(s)" in printed
    listed = [line.split()[0] for line in printed.splitlines() if line.startswith("   ")]
    assert listed == ["1", "2", "7"]


def test_a_bad_matrix_exits_2_naming_the_row_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text((MATRICES / "smoke.toml").read_text().replace("replicas = 1\ncpus = 0.5", "replicas = 0\ncpus = 0.5"),
                   encoding="utf-8")
    assert main(["run", str(bad), "--dry-run"]) == 2
    assert "configuration 2: replicas must be greater than 0, got 0" in capsys.readouterr().err


def test_resume_without_an_unfinished_run_says_so(tmp_path, capsys):
    assert main(["run", str(MATRICES / "smoke.toml"), "--resume", "--out", str(tmp_path)]) == 2
    assert "no unfinished run of" in capsys.readouterr().err


def make_run(root: Path, matrix_path: Path, started_at: str) -> Path:
    matrix = load_matrix(matrix_path)
    plan = Plan(matrix=str(matrix_path), selected=tuple(c.index for c in matrix.configurations), started_at=started_at,
                host=HOST)
    return create_run_dir(root, matrix, plan)


def finish(run_dir: Path, index: int, name: str, status: str = "completed") -> None:
    directory = run_dir / artifacts_dirname(index, name)
    directory.mkdir(exist_ok=True)
    (directory / RESULT_FILE).write_text(json.dumps({"status": status}), encoding="utf-8")


def test_resume_finds_the_newest_unfinished_run_of_the_same_matrix(tmp_path):
    smoke = tmp_path / "smoke.toml"
    shutil.copyfile(MATRICES / "smoke.toml", smoke)
    older = make_run(tmp_path / "runs", smoke, "2026-01-01T00:00:00+00:00")
    newer = make_run(tmp_path / "runs", smoke, "2026-01-01T00:05:00+00:00")
    other = make_run(tmp_path / "runs", MATRICES / "reference.toml", "2026-01-01T00:10:00+00:00")
    assert latest_unfinished(tmp_path / "runs", smoke) == max(older, newer, key=lambda p: p.name)
    (max(older, newer, key=lambda p: p.name) / DONE_FILE).write_text("{}", encoding="utf-8")
    assert latest_unfinished(tmp_path / "runs", smoke) == min(older, newer, key=lambda p: p.name)
    assert latest_unfinished(tmp_path / "runs", MATRICES / "reference.toml") == other


def test_resume_keeps_finished_rows_and_redoes_rows_the_runner_failed_around(tmp_path, capsys):
    run_dir = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    matrix = load_matrix(MATRICES / "smoke.toml")
    first, second = matrix.configurations
    finish(run_dir, first.index, first.name)
    finish(run_dir, second.index, second.name, status="error")
    assert is_finished(run_dir, first.index, first.name)
    assert not is_finished(run_dir, second.index, second.name)
    assert main(["run", "--resume", str(run_dir), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("   ")]
    assert lines[0].endswith("[done, kept]") and not lines[1].endswith("[done, kept]")


def test_redo_sets_a_finished_row_aside_and_measures_it_again(tmp_path, capsys):
    run_dir = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    first, second = load_matrix(MATRICES / "smoke.toml").configurations
    finish(run_dir, first.index, first.name)
    finish(run_dir, second.index, second.name)
    assert main(["run", "--resume", str(run_dir), "--redo", "2", "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("   ")]
    assert lines[0].endswith("[done, kept]") and not lines[1].endswith("[done, kept]")
    assert is_finished(run_dir, second.index, second.name)  # a dry run moves nothing
    assert set_aside(run_dir, second.index, second.name).name.startswith(f"02-{second.name}.superseded-")
    assert not is_finished(run_dir, second.index, second.name)
    assert main(["run", "--redo", "2", "--dry-run"]) == 2
    assert "--redo needs the run directory" in capsys.readouterr().err


def test_an_attempt_set_aside_is_not_a_result(tmp_path):
    run_dir = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    first = load_matrix(MATRICES / "smoke.toml").configurations[0]
    directory = run_dir / artifacts_dirname(first.index, first.name)
    directory.mkdir()
    result = {"index": 1, "name": first.name, "replicas": 1, "cpus": 0.5, "memory": "256M",
              "memory_limit_bytes": first.memory_limit_bytes, "workers": None, "total_cpus": 0.5,
              "total_memory_bytes": first.memory_limit_bytes, "status": "completed", "verdict": "pass",
              "reason": "fine", "artifacts": directory.name}
    (directory / RESULT_FILE).write_text(json.dumps(result), encoding="utf-8")
    assert [r.index for r in load_results(run_dir)] == [1]
    set_aside(run_dir, first.index, first.name)
    assert load_results(run_dir) == []


def test_resume_cannot_change_the_rows(tmp_path, capsys):
    run_dir = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    assert main(["run", "--resume", str(run_dir), "--only", "1"]) == 2
    assert "--only cannot change what a resumed run covers" in capsys.readouterr().err


def test_run_dirs_of_the_same_second_do_not_collide(tmp_path):
    first = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    second = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    assert first != second and (second / "matrix.toml").read_text() == (MATRICES / "smoke.toml").read_text()


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2


def refusal(argv: list[str], capsys) -> str:
    """Run the CLI on bad input; check it exits 2 without a traceback and return its one error line."""
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse refuses an argument by exiting
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_a_matrix_that_is_not_utf8_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    assert refusal(["run", str(bad), "--dry-run"], capsys) == f"error: {bad}: not UTF-8 text (byte 0)"


@pytest.mark.parametrize(("content", "reason"), [
    (b"not json", "Expecting value"),
    (b"\xff\xfe", "can't decode byte 0xff"),
    (b"{}", "no key 'configurations'"),
    (b"[]", "the top level is list, not an object"),
    (b'{"configurations": "x"}', "'configurations' is str, not a list"),
    (b'{"configurations": ["x"]}', "'str' object has no attribute 'items'"),
    (b'{"configurations": [{"name": "x"}]}', "missing"),
])
def test_recommend_refuses_a_file_that_is_not_results(tmp_path, capsys, content, reason):
    results = tmp_path / "results.json"
    results.write_bytes(content)
    line = refusal(["recommend", str(results)], capsys)
    assert line.startswith(f"error: {results} is not a results.json written by `deploy run` (")
    assert reason in line


def test_recommend_refuses_a_missing_file_like_a_damaged_one(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    assert refusal(["recommend", str(missing)], capsys) == f"error: no results.json at {missing}"
    assert refusal(["recommend", str(tmp_path)], capsys) == f"error: no results.json at {tmp_path / 'results.json'}"


@pytest.mark.parametrize(("plan", "message"), [
    (None, "is not a run directory of `deploy run`: it has no plan.json"),
    (b"{", "its plan is not one `deploy run` wrote"),
    (b'{"matrix": "m.toml"}', "its plan is not one `deploy run` wrote (KeyError('selected'))"),
])
def test_report_refuses_a_directory_without_a_plan(tmp_path, capsys, plan, message):
    shutil.copyfile(MATRICES / "smoke.toml", tmp_path / "matrix.toml")
    if plan is not None:
        (tmp_path / "plan.json").write_bytes(plan)
    line = refusal(["report", str(tmp_path)], capsys)
    assert line.startswith(f"error: {tmp_path}") and message in line


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--port", "99999", "argument --port: port must be 1-65535, got 99999"),
    ("--port", "0", "argument --port: port must be 1-65535, got 0"),
    ("--port", "http", "argument --port: not a port number: 'http'"),
    ("--ready-timeout", "-5", "argument --ready-timeout: must be a finite number of seconds greater than 0, got -5"),
    ("--ready-timeout", "0", "argument --ready-timeout: must be a finite number of seconds greater than 0, got 0"),
    ("--ready-timeout", "nan", "argument --ready-timeout: must be a finite number of seconds greater than 0, got nan"),
    ("--target", "notaurl", "argument --target: must be an http:// or https:// URL with a host, got 'notaurl'"),
    ("--target", "ftp://host/", "argument --target: must be an http:// or https:// URL with a host, got 'ftp://host/'"),
    ("--target", "http://host:99999", "argument --target: not a valid URL: 'http://host:99999'"),
])
def test_run_refuses_bad_option_values(capsys, option, value, message):
    line = refusal(["run", str(MATRICES / "smoke.toml"), "--dry-run", f"{option}={value}"], capsys)
    assert line.startswith("python -m deploy run: error: ") and message in line


@pytest.mark.parametrize(("args", "message"), [
    (["capacity", str(MATRICES / "smoke.toml"), "--dry-run", "--target-rps=abc"],
     "argument --target-rps: not a number of requests/s: 'abc'"),
    (["capacity", str(MATRICES / "smoke.toml"), "--dry-run", "--target-rps=inf"],
     "argument --target-rps: must be a finite number of requests/s greater than 0, got inf"),
    (["overload", "--capacity-rps=100", "--cpus=-1"], "argument --cpus: must be a finite number greater than 0, got -1"),
    (["overload", "--capacity-rps=100", "--cpus=one"], "argument --cpus: not a number: 'one'"),
])
def test_numbers_greater_than_0_are_refused_in_their_own_unit(capsys, args, message):
    assert message in refusal(args, capsys)


def test_run_accepts_good_option_values(capsys):
    assert main(["run", str(MATRICES / "smoke.toml"), "--dry-run", "--port", "8080", "--ready-timeout", "2.5",
                 "--target", "https://10.0.0.5:8080/"]) == 0


@pytest.mark.parametrize("command", ["run", "capacity"])
def test_model_dir_must_hold_an_artifact(command, tmp_path, capsys):
    (tmp_path / "model.joblib").write_bytes(b"")
    line = refusal([command, str(MATRICES / "smoke.toml"), "--dry-run", "--model-dir", str(tmp_path)], capsys)
    assert line.endswith(f"argument --model-dir: {tmp_path} has no metadata.json: not a model artifact")


def test_the_stack_mounts_the_model_dir_over_the_images_artifact(tmp_path, monkeypatch):
    monkeypatch.delenv("API_MODEL_DIR", raising=False)
    (configuration,) = load_matrix(MATRICES / "smoke.toml").configurations[:1]
    assert "API_MODEL_DIR" not in ComposeStack("p", 18000, tmp_path).environment(configuration)
    mounted = ComposeStack("p", 18000, tmp_path, model_dir=tmp_path / "wine").environment(configuration)
    assert mounted["API_MODEL_DIR"] == str(tmp_path / "wine")


@pytest.mark.parametrize(("project", "message"), [
    ("", "'' is not a Compose project name: lowercase letters, digits, '-' and '_', starting with a letter or digit"),
    ("Exp", "'Exp' is not a Compose project name"),
    ("-exp", "'-exp' is not a Compose project name"),
    # .env's COMPOSE_PROJECT_NAME: the stack a plain `docker compose up` starts here, never to be taken down.
    ("api-inference", "'api-inference' is the project of the stack `docker compose up` starts here"),
])
def test_run_refuses_a_project_name_compose_refuses_or_the_stacks_own(capsys, monkeypatch, project, message):
    monkeypatch.chdir(MATRICES.parent.parent)
    line = refusal(["run", str(MATRICES / "smoke.toml"), "--dry-run", f"--project={project}"], capsys)
    assert line.startswith("python -m deploy run: error: argument --project: ") and message in line


def test_run_refuses_the_project_compose_project_name_names(capsys, monkeypatch):
    monkeypatch.chdir(MATRICES.parent.parent)
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "my-stack")
    line = refusal(["run", str(MATRICES / "smoke.toml"), "--dry-run", "--project", "my-stack"], capsys)
    assert "'my-stack' is the project of the stack" in line
    assert main(["run", str(MATRICES / "smoke.toml"), "--dry-run", "--project", "my-stack-exp_2"]) == 0


def test_out_must_be_a_directory_and_the_dry_run_names_it(tmp_path, capsys):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("mine", encoding="utf-8")
    line = refusal(["run", str(MATRICES / "smoke.toml"), "--dry-run", "--out", str(not_a_directory)], capsys)
    assert line == f"error: --out {not_a_directory}: not a directory"
    assert not_a_directory.read_text(encoding="utf-8") == "mine"
    assert main(["run", str(MATRICES / "smoke.toml"), "--dry-run", "--out", str(tmp_path / "runs")]) == 0
    assert f"would write into {tmp_path / 'runs' / '<timestamp>'}/;" in capsys.readouterr().out


def test_a_run_directory_nothing_ran_in_is_discarded_and_one_with_results_kept(tmp_path):
    unstarted = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    assert discard_unstarted(unstarted) and not unstarted.exists() and tmp_path.exists()
    started = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    first = load_matrix(MATRICES / "smoke.toml").configurations[0]
    finish(started, first.index, first.name)
    assert not discard_unstarted(started) and (started / PLAN_FILE).exists()


def time_wait_port() -> int:
    """A localhost port left with only a TIME-WAIT connection, as Nginx's published port is after a run.

    The listener sets SO_REUSEADDR like Docker's (Go's listeners do), and closes the connection first, so
    the TIME-WAIT socket is on its side.
    """
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port)) as client:
        accepted, _ = listener.accept()
        accepted.close()
        client.recv(1)
    listener.close()
    return port


def test_a_port_with_only_time_wait_connections_is_free_and_a_listening_one_is_not():
    require_free_port(time_wait_port())
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} is in use \\(Address already in use\\); choose another"):
            require_free_port(port)


def test_a_taken_port_stops_a_run_before_it_announces_or_creates_a_run_directory(tmp_path, monkeypatch, capsys):
    import docker

    from deploy import runner
    monkeypatch.setattr(docker, "from_env", lambda: object())
    monkeypatch.setattr(runner, "describe_host", lambda client: None)
    monkeypatch.setattr(ComposeStack, "down", lambda stack: None)
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = main(["run", str(MATRICES / "smoke.toml"), "--out", str(tmp_path / "out"), "--port", str(port)])

    captured = capsys.readouterr()
    assert code == 1
    assert "run directory" not in captured.out
    assert captured.err.strip() == f"error: port {port} is in use (Address already in use); choose another with --port"
    assert not (tmp_path / "out").exists()


def test_a_configuration_asking_for_more_cpus_than_the_engine_has_is_unfit_in_words():
    small, large = (replace(load_matrix(MATRICES / "smoke.toml").configurations[0], cpus=cpus) for cpus in (2, 2.5))
    assert unfit_reason(small, engine_cpus=2) is None
    assert unfit_reason(large, engine_cpus=2) == ("asks for 2.5 CPUs per replica, but the Docker engine has 2; "
                                                  "Docker refuses a limit above that")


# What `docker compose up` wrote for an image the engine does not have, and for a name that is no image reference.
NO_SUCH_IMAGE_LOG = """\
 api Pulling 
 api Warning Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host
 Network exp_default  Creating
 Network exp_default  Created
 Container exp-api-1  Creating
 Container exp-api-1  Error response from daemon: No such image: no-such-image:nope
Error response from daemon: No such image: no-such-image:nope
"""
BAD_REFERENCE_LOG = ("unable to get image 'Bad Image': Error response from daemon: no such image: Bad Image: "
                     "invalid reference format: repository name must be lowercase\n")


@pytest.mark.parametrize(("log", "reason"), [
    (NO_SUCH_IMAGE_LOG, "Error response from daemon: No such image: no-such-image:nope"),
    (BAD_REFERENCE_LOG, BAD_REFERENCE_LOG.strip()),
    (" Container exp-api-1  Created\n Container exp-api-1  Starting\n",
     "Container exp-api-1  Created / Container exp-api-1  Starting"),
    ("", "no output"),
])
def test_composes_own_error_line_becomes_the_reason(tmp_path, log, reason):
    path = tmp_path / "compose.log"
    path.write_text(log, encoding="utf-8")
    assert compose_error(path) == reason


@pytest.mark.slow
def test_locusts_own_error_is_the_reason_when_it_writes_no_statistics(tmp_path):
    # A spike that ends after the run time: the real Locust refuses the shape at start and leaves empty CSVs.
    load = Load(users=2, spawn_rate=2, duration_s=10, shape="spike")
    command = locust_command(load, Slo(), "http://127.0.0.1:9", tmp_path)
    run = run_locust(command, tmp_path, load.duration_s, MATRICES.parent.parent)
    assert run.exit_code != 0
    with pytest.raises(ValueError):
        read_stats_csv(run.stats_csv)
    assert locust_error(run.log) == "spike shape: the spike ends at 35 s, after the run time of 10 s"


def test_capacity_dry_run_prints_the_search_the_users_and_the_time(tmp_path, capsys):
    assert main(["capacity", str(MATRICES / "reference.toml"), "--dry-run", "--target-rps", "600",
                 "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "10 of 10 configuration(s), capacity search" in printed
    assert "search: from 100 req/s, doubling then bisecting to 10%, at most 6 probes" in printed
    assert "goal: 600 req/s with 20% headroom" in printed
    assert "the highest rate, 1000 req/s, runs 1500 Locust users" in printed
    minutes = re.search(r"about (\d+) min .*, at most (\d+) min", printed)
    assert minutes and int(minutes.group(1)) <= int(minutes.group(2)) < 30
    assert not (tmp_path / "out").exists()


def test_a_capacity_run_and_a_fixed_load_run_do_not_resume_each_other(tmp_path, capsys):
    run_dir = make_run(tmp_path, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    assert main(["capacity", "--resume", str(run_dir), "--dry-run"]) == 2
    assert f"{run_dir} is a `deploy run` run: resume it with `python -m deploy run`" in capsys.readouterr().err
    assert latest_unfinished(tmp_path, MATRICES / "smoke.toml", "capacity") is None
    assert latest_unfinished(tmp_path, MATRICES / "smoke.toml") == run_dir


def make_pinned_run(root: Path, data: dict) -> Path:
    run_dir = make_run(root, MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    plan = json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8"))
    (run_dir / PLAN_FILE).write_text(json.dumps(plan | data), encoding="utf-8")
    return run_dir


def test_a_resume_keeps_the_cpus_the_run_was_pinned_to(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    run_dir = make_pinned_run(tmp_path, Plan.pinning_fields(Pinning(frozenset({0}), frozenset({1, 2}))))
    assert main(["run", "--resume", str(run_dir), "--pin", "0:1-2", "--dry-run"]) == 0
    assert main(["run", "--resume", str(run_dir), "--pin", "0:2,1", "--dry-run"]) == 0  # the same CPUs, other words
    capsys.readouterr()
    for other in (["--pin", "0:1"], ["--pin", "1:2"], []):
        assert main(["run", "--resume", str(run_dir), *other, "--dry-run"]) == 2
        assert "resume it with the same --pin" in capsys.readouterr().err
    unpinned = make_run(tmp_path / "unpinned", MATRICES / "smoke.toml", "2026-01-01T00:00:00+00:00")
    assert main(["run", "--resume", str(unpinned), "--pin", "0:1", "--dry-run"]) == 2
    assert f"{unpinned} ran with no --pin: resume it with the same --pin" in capsys.readouterr().err


def test_a_pinned_run_whose_plan_has_no_cpu_lists_is_not_resumed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0, 1})
    placement = Pinning(frozenset({0}), frozenset({1})).describe()
    run_dir = make_pinned_run(tmp_path, {"placement": placement})
    for pin in (["--pin", "0:1"], []):
        assert main(["run", "--resume", str(run_dir), *pin, "--dry-run"]) == 2
        assert (f"{run_dir} ran with {placement}, but its plan.json predates the CPU lists a resume checks --pin "
                "against: start a new run instead") in capsys.readouterr().err


@pytest.mark.parametrize("rate", ["0", "-5", "lots", "inf"])
def test_a_target_rate_must_be_a_positive_number(rate, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["capacity", "--dry-run", "--target-rps", rate])
    assert raised.value.code == 2
    assert "--target-rps" in capsys.readouterr().err
