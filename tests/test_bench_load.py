"""Reading what the load generators report: wrk's summary line, Locust's samples."""

from __future__ import annotations

import pytest

from bench.load import LoadError, parse_wrk_output, pinned, summarise_samples

WRK_OUTPUT = """Running 4s test @ http://127.0.0.1:8000/predict
  1 threads and 8 connections
BENCH_JSON {"requests": 10000, "duration_us": 4000000, "bytes": 1500000, "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0}, "latency_us": {"p50": 2500, "p99": 9000, "mean": 2700.5, "max": 20000}}
"""


def test_wrk_summary_gives_rate_latency_errors_and_generator_load() -> None:
    run = parse_wrk_output(WRK_OUTPUT, "/predict", cpu_s=1.0, wall_s=4.0)
    assert run.requests_per_s == 2500
    assert (run.p50_ms, run.p99_ms) == (2.5, 9.0)
    assert run.errors == 3 and run.error_kinds == {"read": 1, "status": 2}
    assert run.generator_cpu_fraction == 0.25


def test_wrk_without_a_summary_is_an_error() -> None:
    with pytest.raises(LoadError, match="no summary"):
        parse_wrk_output("unable to connect to 127.0.0.1:8000 Connection refused", "/predict", 0.0, 1.0)


def test_locust_samples_leave_out_the_warm_up_and_failures() -> None:
    samples = [[0.5, 50.0, 1]] + [[1.0 + i / 100, 1.0 + (i % 10) / 10, 1] for i in range(100)] + [[2.0, 500.0, 0]]
    run = summarise_samples({"samples": samples, "wall_s": 3.0, "cpu_s": 0.6}, "/predict", warmup_s=1.0, target_rps=100.0)
    assert run.requests == 101 and run.errors == 1
    assert run.p50_ms == pytest.approx(1.45)
    assert run.p99_ms < 2.0, "the warm-up sample and the failure must not count"
    assert run.requests_per_s == pytest.approx(101.0)
    assert run.generator_cpu_fraction == pytest.approx(0.2)
    assert run.target_rps == 100.0


def test_locust_with_nothing_after_the_warm_up_is_an_error() -> None:
    with pytest.raises(LoadError, match="no response"):
        summarise_samples({"samples": [[0.2, 1.0, 1]], "wall_s": 1.0, "cpu_s": 0.1}, "/predict", 1.0, None)


def test_pinning_prefixes_taskset_only_when_asked() -> None:
    assert pinned(0, ["wrk", "-t1"]) == ["taskset", "-c", "0", "wrk", "-t1"]
    assert pinned(None, ["wrk"]) == ["wrk"]


def test_the_servers_own_latencies_come_from_its_access_log_after_an_offset(tmp_path) -> None:
    from bench.server import Server

    log = tmp_path / "gunicorn.log"
    old = '{"logger": "gunicorn.access", "path": "/predict", "latency_ms": 99.0}\n'
    log.write_text(old)
    server = Server(url="http://127.0.0.1:1", process=None, log_path=log, cores=[1], metrics_dir=tmp_path)
    since = server.log_size()
    with log.open("a") as handle:
        handle.write('{"logger": "gunicorn.access", "path": "/predict", "latency_ms": 0.25}\n')
        handle.write('{"logger": "gunicorn.access", "path": "/health", "latency_ms": 0.1}\n')
        handle.write("not json: a traceback line\n")
        handle.write('{"logger": "gunicorn.access", "path": "/predict", "latency_ms": null}\n')
        handle.write('{"logger": "gunicorn.access", "path": "/predict", "latency_ms": 1.5}\n')
    assert server.access_latencies_ms("/predict", since) == [0.25, 1.5]
