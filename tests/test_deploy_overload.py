"""deploy.overload: the steps offered, the figures of each step from a request log, the targets, the command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

import deploy.overload
from bench.server import ROOT, free_port
from deploy.__main__ import main
from deploy.matrix import Configuration
from deploy.overload import (
    CapacityNotFound,
    MeasuredCapacity,
    OverloadPlan,
    OverloadResult,
    Request,
    analyse,
    capacity_from,
    judge,
    load_target,
    nginx_refusal_times_ms,
    read_request_log,
    run_overload,
    step_report,
    table,
)
from deploy.readiness import Readiness
from deploy.served_model import ModelChanged, ServedModel
from loadtest.request_log import COLUMNS
from loadtest.slo import Slo

PLAN = OverloadPlan(capacity_rps=100.0, step_s=10.0, peak_s=20.0, pace_s=2.5)
IRIS = ServedModel("iris", "c869581cb53c", "classification")
WINE = ServedModel("wine", "5962ccc4b5d9", "classification")


def test_plan_offers_multiples_of_capacity_with_the_ramp_at_the_first_rate() -> None:
    assert PLAN.rates_rps == (50.0, 100.0, 150.0, 200.0, 50.0)
    assert PLAN.durations_s == (10.0, 10.0, 10.0, 20.0, 10.0)
    # Users for the peak at its pace, all started within 2 s; the first step is measured once each has had
    # one pace of that step (500 / 50 req/s = 10 s) to send its first request at a random phase.
    assert PLAN.load.users == 500
    assert PLAN.load.ramp_s == 2.0
    assert PLAN.warmup_s == pytest.approx(12.0)
    assert PLAN.load.run_time_s == 12 + 60
    assert PLAN.rate_steps_option() == "50:22,100:10,150:10,200:20,50:10"
    assert PLAN.step_starts_s == (12.0, 22.0, 32.0, 42.0, 62.0)


@pytest.mark.parametrize("field", ["capacity_rps", "step_s", "peak_s", "pace_s"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), float("nan")])
def test_plan_refuses_a_non_positive_or_infinite_figure(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        OverloadPlan(**{"capacity_rps": 100.0, field: value})


def requests_of(*rows: tuple[float, float, int] | tuple[float, float, int, str]) -> list[Request]:
    return [Request(*row) for row in rows]


def test_a_step_counts_what_started_inside_it_by_outcome() -> None:
    log = requests_of((0.5, 10, 200), (1.0, 30, 200), (1.5, 2, 503), (2.0, 3, 503), (2.5, 50, 502),
                      (2.9, 0, 0, "ConnectionResetError"), (9.9, 40, 200), (4.0, 1, 200))
    step = step_report(log, multiplier=2.0, offered_rps=4.0, start_s=0.5, duration_s=2.5)

    assert (step.ok, step.refused, step.other_statuses, step.connection_errors) == (2, 2, {"502": 1}, {"ConnectionResetError": 1})
    assert step.requests == 6
    assert step.sent_rps == pytest.approx(6 / 2.5) and step.goodput_rps == pytest.approx(2 / 2.5)
    assert step.ok_p50_ms == pytest.approx(20.0)
    assert step.refused_p99_ms == pytest.approx(2.99)
    assert step.recovery_s is None


def test_the_last_step_says_when_its_last_non_2xx_answer_ended() -> None:
    log = requests_of((60.2, 5, 503), (60.9, 1300, 200), (61.0, 600, 503), (62.0, 5, 200))

    assert step_report(log, 0.5, 50.0, start_s=60.0, duration_s=10.0, last=True).recovery_s == pytest.approx(1.6)
    assert step_report(requests_of((60.2, 5, 200)), 0.5, 50.0, 60.0, 10.0, last=True).recovery_s == 0.0


def passing_log(plan: OverloadPlan) -> list[Request]:
    """A run that meets every target: all 2xx but 30% fast 503s at 1.5x and 2x."""
    log = []
    for multiplier, rate, start, duration in zip(plan.multipliers, plan.rates_rps, plan.step_starts_s, plan.durations_s):
        count = int(rate * duration)
        for index in range(count):
            moment = start + index / rate
            refused = multiplier > 1.0 and index % 10 < 3
            log.append(Request(moment, 2.0 if refused else 80.0, 503 if refused else 200))
    return log


def test_a_run_that_sheds_fast_and_keeps_serving_passes_every_check() -> None:
    checks = judge(analyse(passing_log(PLAN), PLAN), PLAN.capacity_rps, Slo())

    assert [check.passed for check in checks] == [True] * 7, checks


def refuse(request: Request) -> Request:
    """``request`` answered with a fast 503 instead."""
    return Request(request.start_s, 2.0, 503)


@pytest.mark.parametrize(("change", "failing"), [
    (lambda r: Request(r.start_s, r.response_time_ms, 500 if r.start_s > 45 and r.status == 200 and r.start_s < 45.05 else r.status),
     "statuses other than 2xx and 503"),
    (lambda r: Request(r.start_s, 40.0 if r.status == 503 else r.response_time_ms, r.status), "503 p99"),
    (lambda r: Request(r.start_s, r.response_time_ms, 0, "ConnectionResetError") if 50 < r.start_s < 50.1 else r,
     "connection errors"),
    (lambda r: refuse(r) if 62 < r.start_s < 65 else r, "all 2xx again"),
    (lambda r: Request(r.start_s, 1500.0 if 42 < r.start_s < 44 and r.status == 200 else r.response_time_ms, r.status),
     "2xx p99 at 2x"),
    (lambda r: refuse(r) if 22 < r.start_s < 22.5 else r, "refusals at 1x"),
    (lambda r: refuse(r) if 42 < r.start_s < 52 else r, "goodput at 2x"),
])
def test_each_missed_target_is_named(change, failing: str) -> None:
    checks = judge(analyse([change(r) for r in passing_log(PLAN)], PLAN), PLAN.capacity_rps, Slo())

    assert [check.target for check in checks if not check.passed] == [c.target for c in checks if c.target.startswith(failing)]


def test_table_has_a_row_per_step() -> None:
    text = table(analyse(passing_log(PLAN), PLAN))

    assert text.count("\n") == 1 + len(PLAN.multipliers)
    assert "| 2x | 200 req/s | 200 req/s | 140 | 1200 (30.0%) | 2.0 ms / 2.0 ms |" in text


def test_read_request_log_reads_what_the_locustfile_writes(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow(("1.2500", "3.10", "503", "/predict single", ""))
        writer.writerow(("1.5000", "0.90", "0", "/predict batch", "ConnectionRefusedError"))

    assert read_request_log(path) == [Request(1.25, 3.1, 503), Request(1.5, 0.9, 0, "ConnectionRefusedError")]


def results_json(tmp_path: Path, **row) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"configurations": [
        {"name": "single-0.25", "replicas": 1, "cpus": 0.25, "memory": "256M", "capacity_rps": 180.0},
        {"name": "single-0.5", "replicas": 1, "cpus": 0.5, "memory": "256M", **row},
    ]}))
    return path


def test_nginx_refusal_times_are_the_503s_of_its_json_access_log(tmp_path: Path) -> None:
    log = tmp_path / "nginx.log"
    assert nginx_refusal_times_ms(log) == [], "no log: no times"
    lines = [
        "/docker-entrypoint.sh: Configuration complete; ready for start up",
        json.dumps({"status": 503, "request_time_s": 0.002, "uri": "/predict"}),
        json.dumps({"status": 200, "request_time_s": 0.010, "uri": "/predict"}),
        json.dumps({"uri": "/predict", "request_time_s": 0.004, "status": 503}),
        json.dumps({"status": 503}),
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert nginx_refusal_times_ms(log) == pytest.approx([2.0, 4.0])


def test_capacity_from_reads_the_row_of_the_same_limits(tmp_path: Path) -> None:
    path = results_json(tmp_path, capacity_rps=350.0)

    assert capacity_from(path, 1, 0.25, "256m") == MeasuredCapacity(180.0, path, None)
    assert capacity_from(path, 1, 0.5, "256M") == MeasuredCapacity(350.0, path, None)
    with pytest.raises(CapacityNotFound, match="no configuration of 2 x 0.5 CPU / 256M"):
        capacity_from(path, 2, 0.5, "256M")
    with pytest.raises(CapacityNotFound, match="single-0.5 has no measured capacity_rps"):
        capacity_from(results_json(tmp_path, capacity_rps=None), 1, 0.5, "256M")


def test_capacity_from_reads_the_model_its_row_measured(tmp_path: Path) -> None:
    path = results_json(tmp_path, capacity_rps=350.0, model=asdict(WINE))

    assert capacity_from(path, 1, 0.5, "256M") == MeasuredCapacity(350.0, path, WINE)
    assert capacity_from(path, 1, 0.25, "256M").model is None, "a row without a record: not recorded"
    with pytest.raises(ValueError, match="single-0.5 records no model's name and version"):
        capacity_from(results_json(tmp_path, capacity_rps=350.0, model={"name": "wine"}), 1, 0.5, "256M")


@pytest.mark.parametrize(("recorded", "served"), [
    (WINE, IRIS),
    (IRIS, ServedModel("iris", "0123456789ab", "classification")),
    (IRIS, ServedModel("iris-v2", "c869581cb53c", "classification")),
])
def test_a_capacity_measured_on_another_model_is_refused_naming_both(recorded: ServedModel, served: ServedModel) -> None:
    capacity = MeasuredCapacity(350.0, Path("reports/experiments/run/results.json"), recorded)

    with pytest.raises(ModelChanged) as raised:
        capacity.check_served(served)
    assert str(raised.value) == (f"the capacity in reports/experiments/run/results.json was measured on "
                                 f"{recorded.describe()}; this stack serves {served.describe()}: "
                                 "pass --model-dir or another --capacity-from")


def test_a_capacity_of_the_same_model_or_without_a_record_is_accepted() -> None:
    MeasuredCapacity(350.0, Path("r.json"), IRIS).check_served(IRIS)
    MeasuredCapacity(350.0, Path("r.json"), IRIS).check_served(ServedModel("iris", "c869581cb53c", None))
    MeasuredCapacity(350.0, Path("r.json"), None).check_served(WINE)


def test_the_report_says_where_the_capacity_came_from_and_on_which_model() -> None:
    source = Path("reports/experiments/run/results.json")
    result = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=350.0), [], [], False, model=IRIS,
                            capacity=MeasuredCapacity(350.0, source, IRIS))

    assert (f"Capacity 350 req/s, from `{source}`, measured on iris c869581cb53c (classification); steps"
            in result.markdown("c"))
    assert (result.to_json()["capacity_from"], result.to_json()["capacity_model"]) == (str(source), asdict(IRIS))
    unrecorded = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=350.0), [], [], False,
                                capacity=MeasuredCapacity(350.0, source, None))
    assert f"Capacity 350 req/s, from `{source}`, its model not recorded; steps" in unrecorded.markdown("c")
    assert (unrecorded.to_json()["capacity_from"], unrecorded.to_json()["capacity_model"]) == (str(source), None)
    given = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=350.0), [], [], False)
    assert "Capacity 350 req/s; steps" in given.markdown("c")
    assert (given.to_json()["capacity_from"], given.to_json()["capacity_model"]) == (None, None)


class _ReadyStack:
    """A ComposeStack that gets ready at once; it keeps what was done to it."""

    project = "overload-test"
    url = "http://127.0.0.1:18000"
    port = 18000
    root = ROOT
    model_dir = None

    def __init__(self) -> None:
        self.done: list[str] = []

    def down(self) -> None:
        self.done.append("down")

    def start(self, configuration: Configuration, log: Path) -> None:
        self.done.append("start")


@pytest.mark.parametrize(("recorded", "refused"), [(WINE, True), (IRIS, False), (None, False)])
def test_overload_stops_before_any_load_when_its_stack_serves_another_model_than_the_capacity(
        monkeypatch, tmp_path: Path, recorded: ServedModel | None, refused: bool) -> None:
    driven = []
    monkeypatch.setattr(deploy.overload, "require_free_port", lambda port: None)
    monkeypatch.setattr(deploy.overload, "OomWatch", lambda client, project: SimpleNamespace(stop=lambda: None))
    monkeypatch.setattr(deploy.overload, "wait_ready", lambda *args: Readiness(True, "", 0.0))
    monkeypatch.setattr(deploy.overload, "fetch_served_model", lambda url: IRIS)
    monkeypatch.setattr(deploy.overload, "keep_logs", lambda *args, **kwargs: None)
    monkeypatch.setattr(deploy.overload, "load_target", lambda stack, via, say: (stack.url, stack.url))
    monkeypatch.setattr(deploy.overload, "drive", lambda *args: driven.append(args))
    monkeypatch.setattr(deploy.overload, "report", lambda *args: "reported")
    configuration = Configuration(index=1, name="overload", replicas=1, cpus=0.5, memory="256M",
                                  memory_limit_bytes=256 * 2**20, workers=None)
    stack = _ReadyStack()
    capacity = MeasuredCapacity(100.0, tmp_path / "results.json", recorded)

    def overload() -> object:
        return run_overload(configuration, PLAN, Slo(), stack, client=None, directory=tmp_path, build=False,
                            capacity=capacity, say=lambda line: None)

    if refused:
        with pytest.raises(ModelChanged, match="measured on wine 5962ccc4b5d9 .*; this stack serves iris c869581cb53c"):
            overload()
    else:
        assert overload() == "reported"
    assert (len(driven), stack.done) == (0 if refused else 1, ["down", "start", "down"])


def test_overload_refuses_a_capacity_of_another_model_with_exit_2(monkeypatch, tmp_path: Path, capsys) -> None:
    import docker

    def served_iris(*args, capacity: MeasuredCapacity, **kwargs) -> None:
        capacity.check_served(IRIS)
        raise AssertionError("a capacity measured on wine was taken for iris")

    monkeypatch.setattr(docker, "from_env", lambda: SimpleNamespace(ping=lambda: True))
    monkeypatch.setattr(deploy.overload, "run_overload", served_iris)
    path = results_json(tmp_path, capacity_rps=350.0, model=asdict(WINE))

    assert main(["overload", "--capacity-from", str(path), "--out", str(tmp_path / "out")]) == 2
    assert (f"error: the capacity in {path} was measured on wine 5962ccc4b5d9 (classification); this stack serves "
            "iris c869581cb53c (classification): pass --model-dir or another --capacity-from") in capsys.readouterr().err


@pytest.mark.parametrize(("arguments", "words"), [
    (["overload"], "one of the arguments --capacity-rps --capacity-from is required"),
    (["overload", "--capacity-rps", "0"], "must be a finite number greater than 0"),
    (["overload", "--capacity-rps", "100", "--capacity-from", "x.json"], "not allowed with argument"),
])
def test_overload_refuses_bad_arguments(arguments: list[str], words: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


def test_overload_says_which_capacity_is_missing(tmp_path: Path, capsys) -> None:
    assert main(["overload", "--cpus", "1.5", "--capacity-from", str(results_json(tmp_path))]) == 2
    assert "has no configuration of 1 x 1.5 CPU / 256M" in capsys.readouterr().err


class _Stack:
    """A ComposeStack whose Nginx container has ``address`` on the stack's network; it keeps what it was asked."""

    project = "overload-test"
    url = "http://127.0.0.1:18000"

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.asked: list[tuple[str, int]] = []

    def compose(self) -> SimpleNamespace:
        return SimpleNamespace(container_url=lambda service, port: self.asked.append((service, port)) or self.address)


@pytest.mark.parametrize(("via", "address", "answering", "expected"), [
    ("network", "http://172.18.0.3:8000", True, "http://172.18.0.3:8000"),
    ("network", "http://172.18.0.3:8000", False, "http://127.0.0.1:18000"),
    ("network", None, False, "http://127.0.0.1:18000"),
    ("port", "http://172.18.0.3:8000", True, "http://127.0.0.1:18000"),
])
def test_the_load_goes_to_nginx_on_the_stack_network_when_it_answers_else_to_the_port(
        monkeypatch, via: str, address: str | None, answering: bool, expected: str) -> None:
    asked = []
    stack = _Stack(address)
    monkeypatch.setattr(deploy.overload, "answers", lambda url: asked.append(url) or answering)
    said = []
    url, target = load_target(stack, via, said.append)
    assert stack.asked == ([("nginx", 8000)] if via == "network" else [])
    assert url == expected and target.startswith(expected)
    assert ("port proxy" in target) == (expected == _Stack.url)
    assert bool(said) == (via == "network" and expected == _Stack.url)  # a fallback is said, never silent
    assert asked == ([f"{address}/nginx-health"] if via == "network" and address else [])


@pytest.mark.docker
@pytest.mark.slow
def test_a_short_overload_run_on_the_real_engine_sheds_with_json_503s_only(docker_engine: None, tmp_path: Path) -> None:
    # Statuses only, never timings: one replica at 0.1 CPU offered up to 2 x 150 req/s,
    # far past what it serves, must answer every request 2xx or 503 overloaded. Short steps
    # (2 s, the peak 4 s): every step is offered and counted, which is all this checks.
    image = f"api-inference:overload-test-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "deploy", "overload", "--cpus", "0.1", "--capacity-rps", "150",
               "--step-s", "2", "--peak-s", "4", "--pace-s", "1", "--out", str(tmp_path),
               "--project", f"api-inference-overload-test-{uuid.uuid4().hex[:8]}", "--port", str(free_port()),
               "--image", image]
    try:
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                                  env={k: v for k, v in os.environ.items() if k != "API_MAX_CONNS"})
    finally:
        subprocess.run(["docker", "image", "rm", image], capture_output=True, timeout=60)
    assert finished.returncode in (0, 1), finished.stderr[-3000:]  # 1: a target missed; timings are not checked here
    (run_dir,) = tmp_path.iterdir()
    result = json.loads((run_dir / "overload.json").read_text())
    peak = next(step for step in result["steps"] if step["multiplier"] == 2.0)

    assert peak["refused"] > 0, "nothing was shed at 2x of a capacity the replica cannot reach"
    assert peak["ok"] > 0
    for step in result["steps"]:
        assert step["other_statuses"] == {} and step["connection_errors"] == {}, step
    with (run_dir / "locust_failures.csv").open(newline="") as handle:
        errors = {row["Error"] for row in csv.DictReader(handle)}
    assert errors and all("HTTP 503 overloaded" in error for error in errors), errors
    assert (run_dir / "overload.png").stat().st_size > 0
    assert "| 2x |" in (run_dir / "overload.md").read_text()
