"""The readiness probe: 200 is an answer; another status, a refused connection or silence is not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stack.http import answers


class Ready(BaseHTTPRequestHandler):
    """200 on /ready, 503 elsewhere."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the probe's answer, not the log."""


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_200_answers_and_another_status_does_not(server_url: str) -> None:
    assert answers(f"{server_url}/ready")
    assert not answers(f"{server_url}/other")


def test_a_closed_port_or_a_silent_one_does_not_answer() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (the kernel does) but never answers
        port = silent.getsockname()[1]
        assert not answers(f"http://127.0.0.1:{port}/ready", timeout_s=0.2)
    assert not answers(f"http://127.0.0.1:{port}/ready")  # closed now: refused
