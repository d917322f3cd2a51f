"""loadtest.request_log: one CSV row per request, as Locust's request event reports it."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

from loadtest.request_log import COLUMNS, RequestLog


def test_each_request_is_a_row_timed_from_the_start_with_its_status_or_the_client_s_error(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "requests.csv")
    log.start(1000.0)
    log.on_request(name="/predict single", response_time=12.345, response=SimpleNamespace(status_code=200),
                   exception=None, start_time=1001.5, request_type="POST", response_length=90)
    log.on_request(name="/predict single", response_time=1.0, response=SimpleNamespace(status_code=503),
                   exception=RuntimeError("HTTP 503 overloaded"), start_time=1002.25)
    # A refused connection: no status; FastHttpUser keeps the client's own error on the response.
    log.on_request(name="/predict batch", response_time=0.5,
                   response=SimpleNamespace(status_code=0, error=ConnectionRefusedError(111, "refused")),
                   exception=RuntimeError("no response"), start_time=1003.0)
    log.close()

    with (tmp_path / "requests.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [list(COLUMNS),
                    ["1.5000", "12.35", "200", "/predict single", ""],
                    ["2.2500", "1.00", "503", "/predict single", ""],
                    ["3.0000", "0.50", "0", "/predict batch", "ConnectionRefusedError"]]
