"""nginx/: in step with the service's limits, accepted by the nginx image compose.yaml names, shedding
what the replicas cannot take, and answering its own errors as the service does."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
import yaml
from requests.structures import CaseInsensitiveDict

from bench.server import GUNICORN, ROOT, free_port
from stack.wait import wait_until
from service.config import DEFAULT_MAX_BODY_BYTES
from tests.conftest import SEED_REQUEST

NGINX_CONF = ROOT / "nginx" / "default.conf.template"
NGINX_MAIN_CONF = ROOT / "nginx" / "nginx.conf"
COMPOSE_FILE = ROOT / "compose.yaml"
NGINX_IMAGE = "nginx:1.30"  # compose.yaml's
# Requests in flight per replica in the tests' Nginx: small, so that two held requests fill it.
TEST_MAX_CONNS = 2
GUNICORN_CONF = ROOT / "service" / "gunicorn.conf.py"
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
START_TIMEOUT_S = 90.0
# Nginx's large_client_header_buffers default: 4 buffers of 8 KiB.
HEADER_BUFFER_BYTES = 8 * 1024


def directive(name: str, text: str | None = None) -> str:
    """The value of a directive that appears once in ``text`` (default: the whole config)."""
    (value,) = re.findall(rf"^\s*{name}\s+([^;]+);", NGINX_CONF.read_text() if text is None else text, flags=re.MULTILINE)
    return value.strip()


def seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(s|m)?", value).groups()
    return int(number) * (60 if unit == "m" else 1)


def test_nginx_refuses_exactly_the_bodies_the_service_refuses() -> None:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", directive("client_max_body_size").lower()).groups()

    assert int(number) * SIZE_UNITS[unit] == DEFAULT_MAX_BODY_BYTES
    assert f"over the limit of {DEFAULT_MAX_BODY_BYTES} bytes" in NGINX_CONF.read_text()


def test_nginx_closes_idle_upstream_connections_before_gunicorn_does() -> None:
    # If Gunicorn closed an idle connection first, Nginx could send a request
    # on a socket that is being closed and the request would fail.
    upstream = re.search(r"^upstream api \{(.*?)^\}", NGINX_CONF.read_text(), flags=re.MULTILINE | re.DOTALL).group(1)
    gunicorn_keepalive_s = int(re.search(r'"GUNICORN_KEEPALIVE", "?(\d+)', GUNICORN_CONF.read_text()).group(1))

    assert seconds(directive("keepalive_timeout", upstream)) < gunicorn_keepalive_s


def gunicorn_settings(model_dir, tmp_path) -> dict[str, str]:
    """Every setting Gunicorn runs the service with (``--print-config``, which loads the app), its value as text
    by name."""
    result = subprocess.run([str(GUNICORN), "-c", str(GUNICORN_CONF), "--print-config"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "MODEL_DIR": str(model_dir), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, flags=re.MULTILINE))


def test_a_line_nginx_passes_is_one_a_replica_takes_and_a_longer_one_nginx_refuses_itself(model_dir, tmp_path) -> None:
    # Nginx reads the request line, and each header line, with its CRLF into one
    # large_client_header_buffers buffer (left at its default: set nowhere);
    # Gunicorn counts a line without its CRLF.
    for conf in (NGINX_CONF, NGINX_MAIN_CONF):
        assert not re.search(r"^\s*large_client_header_buffers\s", conf.read_text(), flags=re.MULTILINE)
    settings = gunicorn_settings(model_dir, tmp_path)

    assert int(settings["limit_request_line"]) == HEADER_BUFFER_BYTES - len(b"\r\n")
    assert int(settings["limit_request_field_size"]) == HEADER_BUFFER_BYTES - len(b"\r\n")


def nginx_mounts(max_conns: int | str) -> list[str]:
    """``docker run`` arguments that set Nginx up as compose.yaml does: nginx.conf, the template, API_MAX_CONNS."""
    return ["-e", f"API_MAX_CONNS={max_conns}",
            "-v", f"{NGINX_MAIN_CONF}:/etc/nginx/nginx.conf:ro",
            "-v", f"{NGINX_CONF}:/etc/nginx/templates/default.conf.template:ro"]


def compose_nginx_service() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]["nginx"]


def test_compose_mounts_nginx_conf_and_the_template_and_gives_api_max_conns_a_default() -> None:
    nginx = compose_nginx_service()
    sources = {mount["target"]: mount["source"] for mount in nginx["configs"]}
    files = yaml.safe_load(COMPOSE_FILE.read_text())["configs"]

    assert files[sources["/etc/nginx/nginx.conf"]]["file"] == "./nginx/nginx.conf"
    assert files[sources["/etc/nginx/templates/default.conf.template"]]["file"] == "./nginx/default.conf.template"
    assert re.fullmatch(r"\$\{API_MAX_CONNS:-[1-9]\d*\}", nginx["environment"]["API_MAX_CONNS"])
    assert "${API_MAX_CONNS}" in directive("server", re.search(r"^upstream api \{(.*?)^\}", NGINX_CONF.read_text(),
                                                                  flags=re.MULTILINE | re.DOTALL).group(1))


def upstream_host() -> str:
    """The name Nginx resolves the replicas by (``server <name>:8000 resolve`` in the upstream)."""
    return re.search(r"^\s*server (\S+):8000 resolve", NGINX_CONF.read_text(), flags=re.MULTILINE).group(1)


def test_nginx_s_healthcheck_resolves_the_replicas_name_and_sends_them_nothing() -> None:
    # A check that sent a request through the upstream would fail while every
    # replica is busy and Nginx sheds with 503: an overloaded stack is not broken.
    healthcheck = compose_nginx_service()["healthcheck"]

    assert healthcheck["test"] == ["CMD", "getent", "hosts", upstream_host()]


@pytest.mark.docker
def test_nginx_s_healthcheck_fails_once_docker_dns_stops_resolving_the_replicas(docker_engine: None) -> None:
    _, *command = compose_nginx_service()["healthcheck"]["test"]
    network = f"api-inference-nginx-test-{uuid.uuid4().hex[:8]}"
    replica = f"{network}-api"

    def healthcheck() -> int:
        return subprocess.run(["docker", "run", "--rm", "--network", network, "--entrypoint", command[0], NGINX_IMAGE,
                               *command[1:]], capture_output=True, timeout=120).returncode

    try:
        docker("network", "create", network)
        docker("run", "-d", "--name", replica, "--network", network, "--network-alias", upstream_host(),
               "--entrypoint", "sleep", NGINX_IMAGE, "300")
        assert healthcheck() == 0
        docker("rm", "-f", replica)
        assert healthcheck() != 0
    finally:
        subprocess.run(["docker", "rm", "-f", replica], capture_output=True, timeout=60)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, timeout=60)


def test_each_worker_may_open_more_files_than_it_has_connections() -> None:
    # Every connection is a file descriptor; worker_connections above the open
    # files limit fails with "Too many open files" instead.
    main = NGINX_MAIN_CONF.read_text()

    assert int(directive("worker_rlimit_nofile", main)) > int(directive("worker_connections", main))


@pytest.mark.docker
def test_config_renders_and_passes_nginx_t_in_the_image_compose_runs(docker_engine: None) -> None:
    result = subprocess.run(["docker", "run", "--rm", *nginx_mounts(17), NGINX_IMAGE, "nginx", "-T"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # The image's entrypoint rendered the template: the upstream's admission limit is the variable's value.
    assert re.search(r"server api:8000 resolve .*max_conns=17;", result.stdout)
    assert "${" not in result.stdout


@pytest.mark.docker
def test_without_api_max_conns_nginx_refuses_to_start(docker_engine: None) -> None:
    # compose.yaml always sets it; a hand-made `docker run` that forgets it fails at once, in Nginx's words.
    result = subprocess.run(["docker", "run", "--rm", "-v", f"{NGINX_MAIN_CONF}:/etc/nginx/nginx.conf:ro",
                             "-v", f"{NGINX_CONF}:/etc/nginx/templates/default.conf.template:ro",
                             NGINX_IMAGE, "nginx", "-t"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "max_conns" in result.stderr


def docker(*args: str, timeout_s: float = 120) -> str:
    """Run the docker CLI; raise ``AssertionError`` with its output when it fails."""
    result = subprocess.run(["docker", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, f"docker {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}"
    return result.stdout


def run_nginx(name: str, port: int, *network_args: str) -> None:
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "--cpus", "0.25", *network_args,
           *nginx_mounts(TEST_MAX_CONNS), NGINX_IMAGE)


def wait_for(url: str, status: int = 200) -> None:
    """Poll ``url`` until it answers ``status``; fail after START_TIMEOUT_S."""
    def answers() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == status
        except requests.ConnectionError:
            return False

    assert wait_until(answers, START_TIMEOUT_S), f"{url} did not answer {status} within {START_TIMEOUT_S} s"


@pytest.fixture(scope="module")
def nginx_port(docker_engine: None) -> Iterator[int]:
    """Nginx alone, on a free localhost port: no replica answers (on the default network there is no
    Docker DNS, so `api` resolves to nothing)."""
    port, name = free_port(), f"api-inference-nginx-test-{uuid.uuid4().hex[:8]}"
    try:
        run_nginx(name, port, "--add-host", "api:127.0.0.1")
        wait_for(f"http://127.0.0.1:{port}/nginx-health")
        yield port
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


@dataclass(frozen=True)
class ReplicaBehindNginx:
    """Nginx on a localhost port, and the container name of the one api replica behind it."""

    port: int
    api: str


@pytest.fixture(scope="module")
def replica_behind_nginx(docker_engine: None) -> Iterator[ReplicaBehindNginx]:
    """Nginx (TEST_MAX_CONNS requests in flight per replica) and one api replica (the image ``make build`` makes)
    on a network of their own."""
    suffix = uuid.uuid4().hex[:8]
    image, network = f"api-inference:nginx-test-{suffix}", f"api-inference-nginx-test-{suffix}"
    api, nginx, port = f"{network}-api", f"{network}-nginx", free_port()
    try:
        result = subprocess.run(["make", "build", f"IMAGE={image}"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-4000:]
        docker("network", "create", network)
        docker("run", "-d", "--name", api, "--network", network, "--network-alias", "api",
               "--cpus", "0.5", "--memory", "256m", image)
        run_nginx(nginx, port, "--network", network)
        wait_for(f"http://127.0.0.1:{port}/ready")
        yield ReplicaBehindNginx(port, api)
    finally:
        subprocess.run(["docker", "rm", "-f", nginx, api], capture_output=True, timeout=60)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, timeout=60)
        subprocess.run(["docker", "image", "rm", image], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def nginx_with_replica_port(replica_behind_nginx: ReplicaBehindNginx) -> int:
    return replica_behind_nginx.port


def exchange(port: int, request: bytes) -> tuple[str, CaseInsensitiveDict, bytes]:
    """Send raw bytes to 127.0.0.1:``port``; the status line, headers and body Nginx answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    return status_line, CaseInsensitiveDict(line.split(": ", 1) for line in header_lines), body


def assert_nginx_error(headers, body: dict, status: int, code: str) -> None:
    """A JSON error of Nginx's own, in the service's shape, that no replica saw."""
    assert headers["Content-Type"] == "application/json"
    assert body["error"]["status"] == status and body["error"]["code"] == code and body["error"]["fields"] == {}
    assert body["request_id"] == headers["X-Request-ID"]
    assert "X-Upstream-Addr" not in headers


@pytest.mark.docker
@pytest.mark.parametrize(("method", "path", "headers", "status", "code"), [
    ("TRACE", "/predict", {}, 405, "method_not_allowed"),
    ("POST", "/predict", {"Transfer-Encoding": "bogus"}, 501, "not_implemented"),
    # One header longer than a header buffer, and headers longer than all four.
    ("GET", "/health", {"X-Big": "a" * (HEADER_BUFFER_BYTES + 1000)}, 431, "request_header_fields_too_large"),
    ("GET", "/health", {f"X-Big-{i}": "a" * (HEADER_BUFFER_BYTES - 1000) for i in range(6)}, 431,
     "request_header_fields_too_large"),
    ("POST", "/nginx-health", {}, 405, "method_not_allowed"),
    ("DELETE", "/nginx-health", {}, 405, "method_not_allowed"),
    # A `return` has no ETag or Last-Modified, so these preconditions fail.
    ("GET", "/nginx-health", {"If-Match": '"v1"'}, 412, "precondition_failed"),
    ("GET", "/nginx-health", {"If-Unmodified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, 412, "precondition_failed"),
])
def test_errors_nginx_answers_itself_are_json_in_the_service_shape(nginx_port: int, method, path, headers, status, code) -> None:
    response = requests.request(method, f"http://127.0.0.1:{nginx_port}{path}", headers=headers, timeout=10)

    assert response.status_code == status
    assert_nginx_error(response.headers, response.json(), status, code)


@pytest.mark.docker
def test_an_oversized_header_gets_431_not_nginx_s_400(nginx_port: int) -> None:
    big = b"X-Big: " + b"a" * (HEADER_BUFFER_BYTES + 1000)
    status_line, headers, body = exchange(nginx_port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + big + b"\r\nConnection: close\r\n\r\n")

    # Nginx has no reason phrase for 431; the status line still parses.
    assert status_line == "HTTP/1.1 431 "
    assert_nginx_error(headers, json.loads(body), 431, "request_header_fields_too_large")


@pytest.mark.docker
@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/9.9"])
def test_http_versions_other_than_1_x_get_a_json_505(nginx_port: int, version: str) -> None:
    # HTTP/2 needs TLS or a preface; a request line naming it is HTTP/1 with a bad version.
    status_line, headers, body = exchange(nginx_port, f"GET /health {version}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())

    assert status_line == "HTTP/1.1 505 HTTP Version Not Supported"
    assert_nginx_error(headers, json.loads(body), 505, "http_version_not_supported")


@pytest.mark.docker
def test_nginx_health_answers_get_and_head_and_names_them_on_a_405(nginx_port: int) -> None:
    url = f"http://127.0.0.1:{nginx_port}/nginx-health"

    assert requests.get(url, timeout=10).json() == {"status": "ok"}
    assert requests.head(url, timeout=10).status_code == 200
    refused = requests.post(url, timeout=10)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD"


@pytest.mark.docker
def test_the_error_page_requested_directly_is_the_404_a_replica_gives_for_any_path(nginx_port: int, client) -> None:
    response = requests.get(f"http://127.0.0.1:{nginx_port}/_nginx_error", timeout=10)

    assert response.status_code == 404
    assert_nginx_error(response.headers, response.json(), 404, "not_found")
    assert response.json()["error"] == client.get("/_nginx_error").get_json()["error"]
    assert "Allow" not in response.headers


@pytest.mark.docker
@pytest.mark.slow
def test_the_longest_request_line_nginx_passes_reaches_the_replica_and_one_byte_more_is_nginx_s_414(
        nginx_with_replica_port: int) -> None:
    def request_line(length: int) -> bytes:
        line = b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
        assert len(line) == length
        return line + b"\r\nHost: x\r\nConnection: close\r\n\r\n"

    longest = HEADER_BUFFER_BYTES - len(b"\r\n")
    status_line, headers, body = exchange(nginx_with_replica_port, request_line(longest))
    assert status_line.startswith("HTTP/1.1 404 ") and "X-Upstream-Addr" in headers  # the replica's: no such route
    assert json.loads(body)["request_id"] == headers["X-Request-ID"]

    status_line, headers, body = exchange(nginx_with_replica_port, request_line(longest + 1))
    assert status_line.startswith("HTTP/1.1 414 ")
    assert_nginx_error(headers, json.loads(body), 414, "uri_too_long")


@pytest.mark.docker
@pytest.mark.slow
def test_a_replica_s_own_parse_error_on_v2_reaches_the_client_in_the_protocol_s_shape(nginx_with_replica_port: int) -> None:
    # 101 short headers fit Nginx's buffers: the replica's Gunicorn refuses them, on a path it read.
    many = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(101))
    status_line, headers, body = exchange(nginx_with_replica_port,
                                          b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n" + many + b"Connection: close\r\n\r\n")

    assert status_line.startswith("HTTP/1.1 431 ") and "X-Upstream-Addr" in headers
    assert json.loads(body) == {"error": "Error parsing headers: 'limit request headers fields'"}


@pytest.mark.docker
@pytest.mark.slow
def test_nginx_s_414_on_v2_is_in_the_service_shape_since_it_read_no_path(nginx_with_replica_port: int) -> None:
    line = b"GET /v2/" + b"a" * HEADER_BUFFER_BYTES + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status_line, headers, body = exchange(nginx_with_replica_port, line)

    assert status_line.startswith("HTTP/1.1 414 ")
    assert_nginx_error(headers, json.loads(body), 414, "uri_too_long")


@pytest.mark.docker
@pytest.mark.slow
def test_a_replica_s_own_404_and_405_pass_through_nginx(nginx_with_replica_port: int, client) -> None:
    # error_page 404/405 at the server level must not replace a replica's answers.
    for method, path in [("GET", "/no-such-path"), ("POST", "/health")]:
        response = requests.request(method, f"http://127.0.0.1:{nginx_with_replica_port}{path}", timeout=10)
        from_service = client.open(path, method=method)

        assert response.status_code == from_service.status_code
        assert response.headers["X-Upstream-Addr"]
        assert response.json()["error"] == from_service.get_json()["error"]


@pytest.mark.docker
@pytest.mark.slow
def test_a_client_slower_than_the_timeouts_is_disconnected_without_a_response(nginx_port: int) -> None:
    # Nginx's 408 is never sent: it closes the connection (so no error_page for 408).
    timeout_s = max(seconds(directive("client_header_timeout")), seconds(directive("client_body_timeout")))
    unfinished = [b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers never end
                  b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}"]  # body never ends
    connections = [socket.create_connection(("127.0.0.1", nginx_port), timeout=timeout_s + 10) for _ in unfinished]
    try:
        for connection, request in zip(connections, unfinished):
            connection.sendall(request)
        for connection in connections:
            assert connection.recv(65536) == b""
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.docker
@pytest.mark.parametrize(("path", "body", "extra_headers", "status"), [
    ("/v2/models/iris/infer", b"x" * (DEFAULT_MAX_BODY_BYTES + 1), {}, 413),
    ("/v2/models/iris/versions/1/infer", b"x" * (DEFAULT_MAX_BODY_BYTES + 1), {}, 413),
    # `api` resolves to no replica (no Docker DNS on this network): none to try, so shed.
    ("/v2/models/iris/infer", b"{}", {}, 503),
    ("/v2/models/iris/infer", b"{}", {"Transfer-Encoding": "zstd"}, 501),
])
def test_nginx_s_own_errors_on_v2_routes_use_the_protocol_s_shape(nginx_port: int, path: str, body: bytes,
                                                                  extra_headers: dict[str, str], status: int) -> None:
    headers = {"Content-Type": "application/json", **extra_headers}
    response = requests.post(f"http://127.0.0.1:{nginx_port}{path}", data=body, headers=headers, timeout=10)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"]
    error = response.json()
    assert set(error) == {"error"} and isinstance(error["error"], str)
    # The message the same error has on the API's own routes.
    same_on_predict = requests.post(f"http://127.0.0.1:{nginx_port}/predict", data=body, headers=headers,
                                    timeout=10).json()
    assert error["error"] == same_on_predict["error"]["message"]


@pytest.mark.docker
def test_only_the_v2_prefix_gets_the_protocol_s_shape(nginx_port: int) -> None:
    response = requests.post(f"http://127.0.0.1:{nginx_port}/v2x", data=b"x" * (DEFAULT_MAX_BODY_BYTES + 1), timeout=10)

    assert response.status_code == 413
    assert_nginx_error(response.headers, response.json(), 413, "payload_too_large")


@pytest.mark.docker
@pytest.mark.slow
def test_a_request_beyond_every_replica_s_limit_is_shed_at_once_with_a_json_503(replica_behind_nginx: ReplicaBehindNginx) -> None:
    url = f"http://127.0.0.1:{replica_behind_nginx.port}"
    infer = {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}
    # A paused replica accepts connections (the kernel does) but answers nothing: requests sent to it stay in flight.
    docker("pause", replica_behind_nginx.api)
    with ThreadPoolExecutor(TEST_MAX_CONNS) as pool:
        try:
            held = [pool.submit(requests.post, f"{url}/predict", json=SEED_REQUEST, timeout=60) for _ in range(TEST_MAX_CONNS)]
            # Give the held requests their head start: a probe that reaches Nginx first takes a free slot on the
            # paused replica and gets no answer; it gives up (Nginx then frees the slot) and the next one is sent.
            time.sleep(1)
            probes: list[requests.Response] = []

            def sheds() -> bool:  # Nginx has both held requests in flight and sheds the next one
                try:
                    probes.append(requests.post(f"{url}/predict", json=SEED_REQUEST, headers={"X-Request-ID": "shed-1"},
                                                timeout=3))
                except requests.exceptions.ReadTimeout:
                    return False
                return probes[-1].status_code == 503

            wait_until(sheds, 30)
            shed_v2 = requests.post(f"{url}/v2/models/iris/infer", json=infer, timeout=10)
        finally:
            docker("unpause", replica_behind_nginx.api)
        answered = [future.result() for future in held]

    shed = probes[-1] if probes else None
    assert shed is not None and shed.status_code == 503, shed and shed.text
    assert shed.headers["Retry-After"] == "1"
    assert shed.headers["X-Upstream-Addr"] == "api : api", "no replica was tried, on either pass"
    assert shed.json() == {"error": {"status": 503, "code": "overloaded", "message": shed.json()["error"]["message"],
                                     "fields": {}}, "request_id": "shed-1"}
    assert "retry after 1 s" in shed.json()["error"]["message"]
    assert shed.headers["Content-Type"] == "application/json"
    # The Open Inference Protocol's routes get the same refusal in the protocol's shape.
    assert shed_v2.status_code == 503 and shed_v2.headers["Retry-After"] == "1"
    assert shed_v2.json() == {"error": shed.json()["error"]["message"]}
    # The held requests were answered once the replica went on, and it takes new ones.
    assert [response.status_code for response in answered] == [200] * TEST_MAX_CONNS
    assert requests.post(f"{url}/predict", json=SEED_REQUEST, timeout=10).status_code == 200


@pytest.mark.docker
@pytest.mark.slow
def test_nginx_workers_run_with_the_open_files_limit_nginx_conf_asks(replica_behind_nginx: ReplicaBehindNginx) -> None:
    nginx = replica_behind_nginx.api.removesuffix("-api") + "-nginx"
    limits = docker("exec", nginx, "sh", "-c",
                    "for status in /proc/[0-9]*/cmdline; do if grep -q '^nginx: worker process' $status; then "
                    "grep 'Max open files' ${status%/cmdline}/limits; fi; done")

    wanted = directive("worker_rlimit_nofile", NGINX_MAIN_CONF.read_text())
    assert limits.split() and all(line.split()[3] == wanted for line in limits.strip().splitlines()), limits
