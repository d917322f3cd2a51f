"""The capacity runner around a probe, with Locust replaced: a Locust that wrote no statistics is a tooling error."""

from __future__ import annotations

import io
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


def test_a_probe_without_statistics_raises_with_locusts_own_words(locust_without_statistics, tmp_path):
    with pytest.raises(capacity_run.LocustFailed, match=r"Locust wrote no statistics at 10 req/s \(exit 2\): "
                                                        r"Too many open files"):
        capacity_run.run_probe(1, 10, SEARCH, Slo(), "http://127.0.0.1:1", tmp_path, tmp_path, [], None,
                               Progress(1, io.StringIO()), 1, "x")


def test_the_configuration_then_ends_in_error_for_resume_to_try_again(locust_without_statistics, tmp_path):
    configuration = Configuration(index=1, name="1x0.25", replicas=1, cpus=0.25, memory="256M",
                                  memory_limit_bytes=256 << 20, workers=None)
    matrix = Matrix(path=tmp_path / "m.toml", load=None, slo=Slo(), configurations=(configuration,), search=SEARCH)
    directory = tmp_path / "run" / "01-1x0.25"
    directory.mkdir(parents=True)
    stack = SimpleNamespace(url="http://127.0.0.1:1", root=tmp_path, project="p")
    result = capacity_run.measure_capacity(ReadyStack(
        configuration, matrix, directory, stack, RunOptions(tmp_path, "p", 1), client=None,
        progress=Progress(1, io.StringIO()), position=1, started_at="2026-12-02T08:00:00+00:00", oom_watch=None,
        ready_s=5.0, host_cpus=2))
    assert result.status == ERROR and "Too many open files" in result.reason
    assert capacity_run.read_ceiling(tmp_path / "run") is None  # measured again on resume
