"""The benchmark's Locust user: one request, at a fixed rate or flat out, every latency kept.

Run by ``bench/load.py`` as ``locust -f bench/locustfile.py --headless ...``
with the ``--bench-*`` options below. It writes
``{"samples": [[seconds_since_start, response_time_ms, ok], ...], "wall_s", "cpu_s"}``
to ``--bench-samples-file`` when Locust quits; ``cpu_s`` is this process's CPU
time over the test, so the caller can tell whether Locust itself was the limit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.user.wait_time import constant_throughput

SAMPLES: list[tuple[float, float, int]] = []
CLOCK: dict[str, float] = {}
REQUEST: dict[str, Any] = {}


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--bench-path", default="/predict", help="path to request")
    parser.add_argument("--bench-body-file", default="", help="JSON body to POST; empty: GET")
    parser.add_argument("--bench-user-rps", type=float, default=0.0, help="requests/s per user; 0: no wait")
    parser.add_argument("--bench-max-requests", type=int, default=100_000, help="stop after this many")
    parser.add_argument("--bench-samples-file", default="", help="where to write the samples")


@events.init.add_listener
def _read_request(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    REQUEST.update(
        environment=environment,
        path=options.bench_path,
        body=Path(options.bench_body_file).read_bytes() if options.bench_body_file else None,
        max_requests=options.bench_max_requests,
    )


@events.test_start.add_listener
def _start_clock(**_: Any) -> None:
    CLOCK.update(wall=time.perf_counter(), cpu=time.process_time())


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, **_: Any) -> None:
    SAMPLES.append((time.perf_counter() - CLOCK["wall"], response_time, int(exception is None)))
    if len(SAMPLES) == REQUEST["max_requests"]:
        # Quit from a greenlet of its own: quitting kills every user, including the one running this.
        gevent.spawn(REQUEST["environment"].runner.quit)


@events.test_stop.add_listener
def _stop_clock(**_: Any) -> None:
    CLOCK.update(wall_s=time.perf_counter() - CLOCK["wall"], cpu_s=time.process_time() - CLOCK["cpu"])


@events.quitting.add_listener
def _write_samples(environment: Any, **_: Any) -> None:
    target = environment.parsed_options.bench_samples_file
    if target:
        document = {"samples": SAMPLES, "wall_s": CLOCK.get("wall_s", 0.0), "cpu_s": CLOCK.get("cpu_s", 0.0)}
        Path(target).write_text(json.dumps(document))


class BenchUser(FastHttpUser):
    """Sends the one configured request, paced by ``--bench-user-rps``."""

    def wait_time(self) -> float:
        rate = self.environment.parsed_options.bench_user_rps
        return constant_throughput(rate)(self) if rate > 0 else 0.0

    @task
    def send(self) -> None:
        if REQUEST["body"] is None:
            self.client.get(REQUEST["path"])
        else:
            self.client.post(REQUEST["path"], data=REQUEST["body"], headers={"Content-Type": "application/json"})
