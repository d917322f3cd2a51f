"""nginx/default.conf: in step with the service's limits, and accepted by the nginx image compose.yaml names."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest
import requests

from service.config import DEFAULT_MAX_BODY_BYTES
from tests.servers import ROOT, free_port

NGINX_CONF = ROOT / "nginx" / "default.conf"
NGINX_IMAGE = "nginx:1.30"  # compose.yaml's
GUNICORN_CONF = ROOT / "service" / "gunicorn.conf.py"
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


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
    gunicorn_keepalive_s = int(re.search(r'"GUNICORN_KEEPALIVE", "(\d+)"', GUNICORN_CONF.read_text()).group(1))

    assert seconds(directive("keepalive_timeout", upstream)) < gunicorn_keepalive_s


@pytest.mark.docker
def test_config_passes_nginx_t_in_the_image_compose_runs(docker_engine: None) -> None:
    result = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro", NGINX_IMAGE, "nginx", "-t"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.docker
@pytest.mark.parametrize(("method", "headers", "status", "code"), [
    ("TRACE", {}, 405, "method_not_allowed"),
    ("POST", {"Transfer-Encoding": "bogus"}, 501, "not_implemented"),
])
def test_errors_nginx_answers_itself_are_json_in_the_service_shape(docker_engine: None, method, headers, status, code) -> None:
    port, name = free_port(), f"api-inference-nginx-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "--add-host", "api:127.0.0.1",
         "-v", f"{NGINX_CONF}:/etc/nginx/conf.d/default.conf:ro", NGINX_IMAGE],
        check=True, capture_output=True, timeout=120,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/nginx-health", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.2)
        response = requests.request(method, f"http://127.0.0.1:{port}/predict", headers=headers, timeout=10)
        assert response.status_code == status
        body = response.json()
        assert body["error"]["status"] == status and body["error"]["code"] == code
        assert body["request_id"] == response.headers["X-Request-ID"]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
