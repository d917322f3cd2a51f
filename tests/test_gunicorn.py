"""The service under a real Gunicorn, over real HTTP."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import joblib
import pytest
import requests

from bench.server import GUNICORN, PRODUCTION, ROOT, free_port, gunicorn
from tests.conftest import BAD_BODIES, SEED_REQUEST


pytestmark = pytest.mark.slow


def metric_value(text: str, metric: str, **labels: str) -> float:
    """Sum of the samples of ``metric`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{metric}(?:\{{(.*)\}})? (\S+)", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(match.group(2))
    return total


def test_seed_request_and_metrics_add_up_across_two_workers(model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=2) as server:
        assert len(server.worker_pids()) == 2

        def call(_: int) -> int:
            # A new connection each time, so both workers' accept loops get requests.
            return requests.post(f"{server.url}/predict", json=SEED_REQUEST, headers={"Connection": "close"}, timeout=10).status_code

        answered_by: set[str] = set()
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while len(answered_by) < 2 and sent < 2000:
                assert set(pool.map(call, range(200))) == {200}
                sent += 200
                answered_by = {p.stem.split("_")[-1] for p in server.metrics_dir.glob("counter_*.db")}
        assert len(answered_by) >= 2, "every request went to one worker; cannot check aggregation"

        text = requests.get(f"{server.url}/metrics", timeout=10).text
        assert metric_value(text, "http_requests_total", route="/predict", status="200") == sent
        assert metric_value(text, "predictions_total", class_name="setosa") == sent
        assert metric_value(text, "http_request_duration_seconds_count", route="/predict") == sent
        assert metric_value(text, "model_info", name="iris") == 1


def test_bad_input_never_costs_a_worker(model_dir: Path, tmp_path: Path) -> None:
    limits = {"MAX_BATCH_SIZE": "50", "MAX_BODY_BYTES": "16384"}
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=2, env=limits) as server:
        before = server.worker_pids()
        for name, raw, status, code, _field, _words in BAD_BODIES:
            response = requests.post(f"{server.url}/predict", data=raw, headers={"Content-Type": "application/json"}, timeout=10)
            assert response.status_code == status, name
            assert response.json()["error"]["code"] == code, name

        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        # A body shorter than its Content-Length, then the client goes away.
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"sepal")
        # Malformed chunked encoding: a 400 in the service's shape, not a 500.
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        assert json.loads(payload)["error"]["code"] == "bad_request"
        # Not HTTP at all.
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
            sock.recv(1024)
        # A body over the limit declared up front.
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("POST", "/predict", body=b"x" * 20_000, headers={"Content-Type": "application/json"})
        assert connection.getresponse().status == 413
        connection.close()

        assert requests.post(f"{server.url}/predict", json=SEED_REQUEST, timeout=10).json()["prediction"] == "setosa"
        assert server.worker_pids() == before


def test_logs_are_json_lines_with_request_id_route_status_latency(model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        started = time.perf_counter()
        response = requests.post(f"{server.url}/predict", json=SEED_REQUEST, headers={"X-Request-ID": "trace-42"}, timeout=10)
        round_trip_ms = (time.perf_counter() - started) * 1000
        assert response.headers["X-Request-ID"] == "trace-42"
        requests.post(f"{server.url}/predict", data="{", headers={"Content-Type": "application/json"}, timeout=10)
    entries = [json.loads(line) for line in server.log_lines()]
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    mine = next(e for e in access if e["request_id"] == "trace-42")
    assert (mine["route"], mine["method"], mine["status"]) == ("/predict", "POST", 200)
    # Gunicorn's own time for the request: something, and within what the client waited for it.
    assert isinstance(mine["latency_ms"], float) and 0 < mine["latency_ms"] <= round_trip_ms
    assert any(e["status"] == 400 and e["request_id"] for e in access)


def test_ready_says_how_gunicorn_runs_the_app(model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(tmp_path / "gthread.log", model_dir=model_dir, app=PRODUCTION, workers=2, threads=3) as server:
        assert server.gunicorn_settings() == {"workers": 2, "worker_class": "gthread", "threads": 3}
        assert len(server.worker_pids()) == 2
    # Gunicorn runs a sync worker with several threads as gthread; /ready names the class that runs.
    with gunicorn(tmp_path / "sync-threads.log", model_dir=model_dir, app=PRODUCTION, workers=1, worker_class="sync",
                  threads=2) as server:
        assert server.gunicorn_settings() == {"workers": 1, "worker_class": "gthread", "threads": 2}
    with gunicorn(tmp_path / "sync.log", model_dir=model_dir, app=PRODUCTION, workers=1, worker_class="sync") as server:
        assert server.gunicorn_settings() == {"workers": 1, "worker_class": "sync", "threads": 1}


def test_workers_follow_the_cpus_granted(model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(tmp_path / "one-cpu.log", model_dir=model_dir, app=PRODUCTION, cpus="0") as server:
        assert server.gunicorn_settings()["workers"] == len(server.worker_pids()) == 1
    with gunicorn(tmp_path / "all-cpus.log", model_dir=model_dir, app=PRODUCTION) as server:
        assert server.gunicorn_settings()["workers"] == len(server.worker_pids()) == joblib.cpu_count()


@pytest.mark.parametrize(("damage", "words"), [
    ("missing", "model artifact not found"),
    ("altered", "does not match its metadata"),
])
def test_refuses_to_start_with_one_line_saying_what_to_run(model_copy: Path, damage: str, words: str) -> None:
    if damage == "missing":
        (model_copy / "model.joblib").unlink()
    else:
        with (model_copy / "model.joblib").open("ab") as handle:
            handle.write(b"\0")
    run = subprocess.run(
        [str(GUNICORN), "-c", "service/gunicorn.conf.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "MODEL_DIR": str(model_copy), "HOST": "127.0.0.1", "PORT": str(free_port())},
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and words in errors[0] and "make model" in errors[0]


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1, got 0"),
    ("GUNICORN_THREADS", "two", "GUNICORN_THREADS='two' is not a valid int"),
    ("GUNICORN_TIMEOUT", "-5", "GUNICORN_TIMEOUT must be at least 1, got -5"),
    ("MAX_BATCH_SIZE", "lots", "MAX_BATCH_SIZE='lots' is not a valid int"),
    ("PORT", "99999", "PORT must be at most 65535, got 99999"),
    ("HOST", "http://localhost", "HOST='http://localhost' is an address to bind (e.g. 127.0.0.1 or 0.0.0.0), not a URL"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("GUNICORN_WORKER_CLASS", "nope", "GUNICORN_WORKER_CLASS='nope' is not a Gunicorn worker class (e.g. gthread, sync, or a module.Class path)"),
    ("PROMETHEUS_MULTIPROC_DIR", "/dev/null", "PROMETHEUS_MULTIPROC_DIR='/dev/null' is not a directory"),
])
def test_refuses_a_bad_setting_with_one_line_naming_it(model_dir: Path, variable: str, value: str, words: str) -> None:
    # Zero workers would otherwise leave a master that accepts no request, forever.
    run = subprocess.run(
        [str(GUNICORN), "-c", "service/gunicorn.conf.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "MODEL_DIR": str(model_dir), "HOST": "127.0.0.1",
             "PORT": str(free_port()), variable: value},
    )
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert errors == [f"Error: {words}"]


def test_refuses_a_metrics_directory_it_cannot_write_to_with_one_line(model_dir: Path) -> None:
    # /proc/1 lists, so only writing a file finds it unusable (the reason differs with the user: root or not).
    run = subprocess.run(
        [str(GUNICORN), "-c", "service/gunicorn.conf.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "MODEL_DIR": str(model_dir), "HOST": "127.0.0.1",
             "PORT": str(free_port()), "PROMETHEUS_MULTIPROC_DIR": "/proc/1"},
    )
    assert run.returncode == 1
    (error,) = [line for line in run.stderr.splitlines() if line.strip()]
    assert error.startswith("Error: PROMETHEUS_MULTIPROC_DIR='/proc/1' is not a writable directory: "), error


@pytest.mark.parametrize(("make", "reason"), [
    (lambda path: path.write_text("not a directory", encoding="utf-8"), "is not a directory"),
    (lambda path: (path / "a.db").mkdir(parents=True),
     "holds 'a.db', which cannot be removed as an earlier run's samples: Is a directory"),
])
def test_a_metrics_directory_gone_wrong_is_refused_with_the_true_reason(model_dir: Path, tmp_path: Path, make,
                                                                        reason: str) -> None:
    metrics = tmp_path / "metrics"
    make(metrics)
    run = subprocess.run(
        [str(GUNICORN), "-c", "service/gunicorn.conf.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "MODEL_DIR": str(model_dir), "HOST": "127.0.0.1",
             "PORT": str(free_port()), "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
    )
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert errors == [f"Error: PROMETHEUS_MULTIPROC_DIR={str(metrics)!r} {reason}"]


def raw_exchange(url: str, request: bytes, *, half_close: bool = False) -> tuple[bytes, bytes]:
    """Send ``request`` bytes as they are (then end the sending side, with ``half_close``);
    the status line and headers, and the body, of the answer."""
    with socket.create_connection((urlsplit(url).hostname, urlsplit(url).port), timeout=10) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


MANY_HEADERS = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(101))


@pytest.mark.parametrize(("request_bytes", "status", "code", "words"), [
    (b"GARBAGE\r\n\r\n", 400, "bad_request", "Invalid HTTP request line"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + MANY_HEADERS + b"\r\n", 431, "request_header_fields_too_large", "limit request headers"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long", "(9014 > 8190)"),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd\r\n\r\n", 501, "not_implemented", "zstd"),
], ids=["request-line", "101-headers", "long-uri", "transfer-coding"])
def test_requests_gunicorn_cannot_parse_get_the_json_error_shape(model_dir: Path, tmp_path: Path, request_bytes: bytes,
                                                                status: int, code: str, words: str) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        head, body = raw_exchange(server.url, request_bytes)
        assert head.split(b"\r\n")[0] == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode(), head
        assert b"Content-Type: application/json" in head
        error = json.loads(body)["error"]
        assert (error["status"], error["code"]) == (status, code)
        assert words in error["message"]
        assert requests.get(f"{server.url}/ready", timeout=10).status_code == 200


@pytest.mark.parametrize(("request_bytes", "status", "words"), [
    (b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n" + MANY_HEADERS + b"\r\n", 431, "limit request headers"),
    (b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd\r\n\r\n", 501, "zstd"),
    (b"GET /v2 HTTP/1.1\r\nHost: x\r\n" + MANY_HEADERS + b"\r\n", 431, "limit request headers"),
], ids=["101-headers", "transfer-coding", "prefix-itself"])
def test_gunicorn_answers_v2_paths_in_the_protocol_error_shape(model_dir: Path, tmp_path: Path, request_bytes: bytes,
                                                               status: int, words: str) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        head, body = raw_exchange(server.url, request_bytes)
        assert head.split(b"\r\n")[0] == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode(), head
        document = json.loads(body)
        assert list(document) == ["error"] and isinstance(document["error"], str), document
        assert words in document["error"]


def test_gunicorn_answers_a_v2_request_line_it_cannot_read_in_the_envelope(model_dir: Path, tmp_path: Path) -> None:
    # Over limit_request_line, the path is never parsed: nothing says the request was for /v2.
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        head, body = raw_exchange(server.url, b"GET /v2/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414 "), head
        assert json.loads(body)["error"]["code"] == "uri_too_long"


SEED_BODY = json.dumps(SEED_REQUEST).encode()


@pytest.mark.parametrize(("request_bytes", "words"), [
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
     % (len(SEED_BODY) + 100, SEED_BODY), f"ended after {len(SEED_BODY)} of the {len(SEED_BODY) + 100} bytes its Content-Length declared"),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc",
     "The request body ended before its declared length"),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s"
     % (len(SEED_BODY), SEED_BODY), "request body could not be read: ChunkMissingTerminator (malformed chunked encoding?)"),
], ids=["short-content-length", "chunked-cut-short", "chunked-cut-at-a-chunk-boundary"])
def test_a_body_cut_short_is_a_400_not_a_prediction(model_dir: Path, tmp_path: Path, request_bytes: bytes, words: str) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        before = server.worker_pids()
        head, body = raw_exchange(server.url, request_bytes, half_close=True)
        assert head.startswith(b"HTTP/1.1 400 "), head
        error = json.loads(body)["error"]
        assert error["code"] == "bad_request" and words in error["message"], error
        assert server.worker_pids() == before


def chunked(body: bytes, size: int = 1 << 20):
    """``body`` in pieces, for http.client to send with chunked transfer coding."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


MILLION_ROWS = json.dumps({"instances": [SEED_REQUEST] * 1_000_000}).encode()


@pytest.mark.parametrize(("body", "encode_chunked"), [
    (b"x" * 20_000_000, False),
    (MILLION_ROWS, False),
    (b"x" * 20_000_000, True),
], ids=["20-MB", "batch-of-10^6-rows", "20-MB-chunked"])
def test_a_client_that_sends_a_whole_large_body_first_reads_its_413(model_dir: Path, tmp_path: Path, body: bytes,
                                                                   encode_chunked: bool) -> None:
    # http.client sends the whole body before it reads: had Gunicorn closed the
    # socket while the body was still coming, it would get a broken pipe.
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        connection = http.client.HTTPConnection(urlsplit(server.url).hostname, urlsplit(server.url).port, timeout=60)
        try:
            connection.request("POST", "/predict", body=chunked(body) if encode_chunked else body,
                               headers={"Content-Type": "application/json"}, encode_chunked=encode_chunked)
            response = connection.getresponse()
            assert response.status == 413
            assert json.loads(response.read())["error"]["code"] == "payload_too_large"
            # The rest of the body was read, so the connection serves the next request.
            connection.request("POST", "/predict", body=SEED_BODY, headers={"Content-Type": "application/json"})
            assert json.loads(connection.getresponse().read())["prediction"] == "setosa"
        finally:
            connection.close()
