"""The containers' logs kept before a teardown: each container's tail in a file of its own, and an engine
that fails midway costs the logs, never the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from docker.errors import APIError

from deploy.containers import LOG_TAIL_LINES, NUMBER_LABEL, PROJECT_LABEL, SERVICE_LABEL, keep_logs


class _Container:
    def __init__(self, service: str, number: str, logs: bytes | Exception) -> None:
        self.labels = {SERVICE_LABEL: service, NUMBER_LABEL: number}
        self._logs = logs
        self.tails: list[int] = []

    def logs(self, stdout: bool, stderr: bool, tail: int) -> bytes:
        self.tails.append(tail)
        if isinstance(self._logs, Exception):
            raise self._logs
        return self._logs


def _client(containers: list[_Container], asked: list[dict]) -> SimpleNamespace:
    def listed(all: bool, filters: dict) -> list[_Container]:
        asked.append(filters)
        return containers
    return SimpleNamespace(containers=SimpleNamespace(list=listed))


def test_each_containers_last_lines_go_to_a_file_of_its_own(tmp_path: Path) -> None:
    nginx, api = _Container("nginx", "1", b"GET /ready 200\n"), _Container("api", "2", b"booting\n")
    asked: list[dict] = []
    keep_logs(_client([nginx, api], asked), "exp", tmp_path / "logs", tail=25)
    assert asked == [{"label": f"{PROJECT_LABEL}=exp"}]
    assert (tmp_path / "logs" / "nginx-1.log").read_bytes() == b"GET /ready 200\n"
    assert (tmp_path / "logs" / "api-2.log").read_bytes() == b"booting\n"
    assert nginx.tails == api.tails == [25]


def test_an_engine_failing_midway_keeps_what_was_saved_and_raises_nothing(tmp_path: Path) -> None:
    first, broken = _Container("nginx", "1", b"kept\n"), _Container("api", "1", APIError("gone"))
    keep_logs(_client([first, broken], []), "exp", tmp_path / "logs")
    assert (tmp_path / "logs" / "nginx-1.log").read_bytes() == b"kept\n"
    assert not (tmp_path / "logs" / "api-1.log").exists()
    assert broken.tails == [LOG_TAIL_LINES]  # unless told otherwise
