"""Reading what the load generators report: wrk's summary file, Locust's samples."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.load import LoadError, pinned, read_wrk_summary, run_wrk, summarise_samples, wrk_available

WRK_SUMMARY = {"requests": 10000, "duration_us": 4000000, "bytes": 1500000,
               "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0},
               "latency_us": {"p50": 2500, "p99": 9000, "mean": 2700.5, "max": 20000}}


def test_wrk_summary_gives_rate_latency_errors_and_generator_load(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    summary_file.write_text(json.dumps(WRK_SUMMARY), encoding="utf-8")
    run = read_wrk_summary(summary_file, "Running 4s test @ http://127.0.0.1:8000/predict", "/predict",
                           cpu_s=1.0, wall_s=4.0)
    assert run.requests_per_s == 2500
    assert (run.p50_ms, run.p99_ms) == (2.5, 9.0)
    assert run.errors == 3 and run.error_kinds == {"read": 1, "status": 2}
    assert run.generator_cpu_fraction == 0.25


@pytest.mark.parametrize("written", [None, "", "{\"requests\": 1"])
def test_wrk_without_a_summary_is_an_error_quoting_its_output(tmp_path: Path, written: str | None) -> None:
    summary_file = tmp_path / "summary.json"
    if written is not None:
        summary_file.write_text(written, encoding="utf-8")
    with pytest.raises(LoadError, match="no summary .*unable to connect to 127.0.0.1:8000"):
        read_wrk_summary(summary_file, "unable to connect to 127.0.0.1:8000 Connection refused", "/predict", 0.0, 1.0)


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST with 200 and keeps the bodies it was sent."""

    protocol_version = "HTTP/1.1"
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the bodies, not the log."""


@pytest.mark.skipif(not wrk_available(), reason="wrk is not installed (apt-get install wrk)")
def test_wrk_posts_the_body_and_its_script_writes_the_summary_read_back(tmp_path: Path) -> None:
    body_file = tmp_path / "body.json"
    body_file.write_text('{"rows": [[5.1, 3.5, 1.4, 0.2]]}', encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = run_wrk(f"http://127.0.0.1:{server.server_port}", "/predict", body_file=body_file, duration_s=2,
                      connections=1, max_requests=20, cpu=None)
    finally:
        server.shutdown()
        server.server_close()
    assert run.tool == "wrk" and run.path == "/predict"
    assert run.requests >= 1 and run.errors == 0
    assert set(Recorder.bodies) == {body_file.read_bytes()}


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
