"""The capacity runner around a probe, with Locust replaced: a Locust that wrote no statistics is a tooling error."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

import deploy.capacity_run as capacity_run
from deploy.loadgen import OpenLoadRun
from deploy.matrix import Configuration, Matrix, Search
from deploy.progress import Progress
from deploy.results import ERROR
from deploy.runner import ReadyStack, RunOptions
from loadtest.runner import LocustRun
from loadtest.slo import Slo

SEARCH = Search(start_rps=10, ramp_s=1, window_s=2, drain_s=0, max_probes=3)


@pytest.fixture
def locust_without_statistics(monkeypatch, tmp_path: Path) -> None:
    def run_open_load(load, slo, target, directory, cwd, on_tick, extra_args):
        directory.mkdir(parents=True, exist_ok=True)
        log = directory / "locust.log"
        log.write_text("[2026-12-02 08:00:00,000] vm/ERROR/locust.main: Too many open files\n", encoding="utf-8")
        return OpenLoadRun(load, LocustRun(2, directory / "locust_stats.csv", directory / "h.csv", log, False), None)

    monkeypatch.setattr(capacity_run, "run_open_load", run_open_load)


def ready_stack(tmp_path: Path) -> ReadyStack:
    """A ReadyStack of one configuration whose stack and engine are never asked anything."""
    configuration = Configuration(index=1, name="1x0.25", replicas=1, cpus=0.25, memory="256M",
                                  memory_limit_bytes=256 << 20, workers=None)
    matrix = Matrix(path=tmp_path / "m.toml", load=None, slo=Slo(), configurations=(configuration,), search=SEARCH)
    directory = tmp_path / "run" / "01-1x0.25"
    directory.mkdir(parents=True)
    stack = SimpleNamespace(url="http://127.0.0.1:1", root=tmp_path, project="p")
    return ReadyStack(
        configuration, matrix, directory, stack, RunOptions(tmp_path, "p", 1), client=None,
        progress=Progress(1, io.StringIO()), position=1, started_at="2026-12-02T08:00:00+00:00", oom_watch=None,
        ready_s=5.0, host_cpus=2)


def test_a_probe_without_statistics_raises_with_locusts_own_words(locust_without_statistics, tmp_path):
    ready = ready_stack(tmp_path)
    series = capacity_run.ProbeSeries.of_search(SEARCH, "x", ready.directory)
    with pytest.raises(capacity_run.LocustFailed, match=r"Locust wrote no statistics at 10 req/s \(exit 2\): "
                                                        r"Too many open files"):
        capacity_run.run_probe(ready, series, [], 1, 10)
    assert (ready.directory / "probe-01-10rps" / "locust.log").exists()


def test_the_configuration_then_ends_in_error_for_resume_to_try_again(locust_without_statistics, tmp_path):
    result = capacity_run.measure_capacity(ready_stack(tmp_path))
    assert result.status == ERROR and "Too many open files" in result.reason
    assert capacity_run.read_ceiling(tmp_path / "run") is None  # measured again on resume


def test_the_ceiling_probe_offers_nginx_health_users_at_its_own_pace_to_the_target(monkeypatch, tmp_path):
    offered = []

    def run_open_load(load, slo, target, directory, cwd, on_tick, extra_args):
        offered.append((load, target, directory, extra_args))
        directory.mkdir(parents=True)
        return OpenLoadRun(load, LocustRun(2, directory / "s.csv", directory / "h.csv", directory / "locust.log", False),
                           None)

    monkeypatch.setattr(capacity_run, "run_open_load", run_open_load)
    ready = ready_stack(tmp_path)
    ready = replace(ready, options=replace(ready.options, target_url="http://10.0.0.5:18000", locust_args=("--x",)))
    capacity_run.measure_capacity(ready)
    [(load, target, directory, extra_args)] = offered
    assert (load.user_class, load.pace_s, load.ramp_s) == ("NginxHealthUser", capacity_run.CEILING_PACE_S,
                                                           capacity_run.CEILING_RAMP_S)
    assert load.rate_rps == SEARCH.max_rps and load.window_s == SEARCH.window_s
    assert (target, extra_args) == ("http://10.0.0.5:18000", ("--x",))
    assert directory == tmp_path / "run" / capacity_run.CEILING_DIR / f"probe-01-{SEARCH.max_rps:g}rps"
