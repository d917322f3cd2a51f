"""Load runs against Gunicorn directly: one worker on one core, the generator on another.

``/predict`` and ``/bench/ceiling`` (served by the same server) and the bare
Flask reference (a second Gunicorn with the same worker settings, on the same
core) are driven in turn, in many short rounds whose order is reversed every
other round, so each ratio is taken between runs a second or two apart; then
batches of 100 and 1000 rows; then ``/predict`` at 70% of its measured maximum
for latency.

Why short rounds: on a virtual machine the speed of a core moves with what
other guests do on the host, unseen from inside (no steal time shows). With
nothing else on the server's core, ``/predict`` measured in half-second windows
swung between 1,100 and 2,150 req/s within 20 s, and three rounds of 4 s runs
gave a ``/predict`` / bare Flask ratio anywhere from 0.69 to 1.06
(docs/performance.md). Twelve rounds of 1 s, reversed every other round, still
gave medians from 0.78 to 0.89 on a busy host, so the target's ratio is taken
from ``/predict`` and the bare app driven at once on their shared core
(``together``), where its rounds stayed within 0.01 of each other in three runs
out of four, within 0.035 in the fourth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.bare import BARE_ROUTE
from bench.load import LoadError, LoadRun, run_locust, run_max
from bench.report import LATENCY_LOAD_FRACTION, rps
from bench.server import Server, busy_s
from bench.wsgi import CEILING_ROUTE

Progress = Callable[[str], None]
# Enough requests in flight that a worker never waits for the network, few
# enough that the queue keeps closed-loop latency readable.
CONNECTIONS = 8
# Rate-limited runs spread the rate over this many Locust users, so one slow
# response delays one user's next request, not the whole offered load.
LATENCY_USERS = 20
# Batches move little between runs: the server is busy parsing and encoding, not waiting.
BATCH_REPEATS = 2
# Rounds of /predict and the bare app driven at once (``together``), 4 s each:
# their ratios came within 0.01 of each other in most runs, 0.035 at worst.
TOGETHER_ROUNDS = 4


@dataclass(frozen=True)
class Settings:
    """How long and how often to run, and on which CPU the generator runs: ``run_s`` and
    ``repeats`` for single measurements, ``rounds`` of ``round_s`` per server for the
    side-by-side comparisons (``interleaved``)."""

    run_s: float
    repeats: int
    latency_s: float
    generator_cpu: int | None
    rounds: int = 12
    round_s: float = 1.0


def watched(server: Server, start: Callable[[], LoadRun]) -> LoadRun:
    """Run ``start()`` and record how much of the server's cores the server used,
    how much everything else did, over the run's wall time, and the server's own
    p50 and p99 request times from its access log."""
    log_start = server.log_size()
    server_before, busy_before, started = server.cpu_s(), busy_s(server.cores), time.perf_counter()
    run = start()
    wall_s = time.perf_counter() - started
    server_s = server.cpu_s() - server_before
    others_s = max(0.0, busy_s(server.cores) - busy_before - server_s)
    latencies = server.access_latencies_ms(run.path, log_start)
    return replace(
        run,
        server_cpu_fraction=server_s / wall_s,
        others_cpu_fraction=others_s / wall_s / len(server.cores),
        server_p50_ms=float(np.percentile(latencies, 50)) if latencies else None,
        server_p99_ms=float(np.percentile(latencies, 99)) if latencies else None,
    )


def max_rate_run(server: Server, path: str, body: Path | None, settings: Settings, connections: int = CONNECTIONS) -> LoadRun:
    """One run as fast as the server answers (wrk, or Locust when wrk is missing), watched."""
    return watched(server, lambda: run_max(server.url, path, body_file=body, duration_s=settings.run_s,
                                           connections=connections, cpu=settings.generator_cpu))


def describe(run: LoadRun) -> str:
    """One progress line's worth of a run."""
    server = f" (server's own: p50 {run.server_p50_ms:.2f}, p99 {run.server_p99_ms:.2f})" if run.server_p99_ms is not None else ""
    return (f"{run.requests_per_s:,.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms{server}, "
            f"server CPU {run.server_cpu_fraction or 0:.0%}, others on its core {run.others_cpu_fraction or 0:.0%}, "
            f"generator CPU {run.generator_cpu_fraction:.0%}" + (f", errors {run.error_kinds or run.errors}" if run.errors else ""))


def together(targets: Sequence[tuple[Server, str]], body: Path | None, settings: Settings) -> list[LoadRun]:
    """Drive every (server, path) of ``targets`` at full speed at the same time, each with a
    generator of its own, for ``settings.run_s``; each run with its server's CPU seconds per wall second.

    Servers pinned to one core then share it from one moment to the next, so a change
    in the machine's speed reaches all of them alike, and each one's CPU µs per request
    compares the servers as runs made seconds apart on a virtual machine cannot.
    """
    found: list[LoadRun | None] = [None] * len(targets)

    def drive(index: int) -> None:
        server, path = targets[index]
        found[index] = run_max(server.url, path, body_file=body, duration_s=settings.run_s, connections=CONNECTIONS,
                               cpu=settings.generator_cpu)

    before = [server.cpu_s() for server, _ in targets]
    started = time.perf_counter()
    threads = [threading.Thread(target=drive, args=(index,)) for index in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    if any(run is None for run in found):
        raise LoadError("a generator driving the servers at once failed")
    return [replace(run, server_cpu_fraction=(server.cpu_s() - cpu_before) / wall_s)
            for run, (server, _), cpu_before in zip(found, targets, before)]


def interleaved(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name) in the order to run them: ``names`` in order in rounds 1, 3, 5..., in
    reverse in rounds 2, 4, 6..., so that a drift in the machine's speed during a round
    pair favours no name."""
    for number in range(1, rounds + 1):
        for name in names if number % 2 else reversed(names):
            yield number, name


def measure(server: Server, bare: Server, bodies: dict[str, Path], settings: Settings, progress: Progress) -> dict[str, Any]:
    """Run every direct measurement; return lists of run dicts under ``predict``,
    ``ceiling``, ``bare_flask`` (``bare``'s one route; run i of these three was made
    in round i, ``interleaved``), ``together`` (``{"predict": run, "bare_flask": run}``
    per round of both driven at once), ``batch100``, ``batch1000`` and ``latency`` (rate-limited)."""
    max_rate_run(server, "/predict", bodies["single"], replace(settings, run_s=1.0))  # warm-up, discarded
    max_rate_run(bare, BARE_ROUTE, bodies["single"], replace(settings, run_s=1.0))
    targets = {"predict": (server, "/predict"), "ceiling": (server, CEILING_ROUTE), "bare_flask": (bare, BARE_ROUTE)}
    results: dict[str, Any] = {name: [] for name in targets}
    for number, name in interleaved(list(targets), settings.rounds):
        target, path = targets[name]
        run = max_rate_run(target, path, bodies["single"], replace(settings, run_s=settings.round_s))
        results[name].append(run.as_dict())
        progress(f"  {path} round {number}/{settings.rounds}: {describe(run)}")
    results["together"] = []
    for number in range(1, TOGETHER_ROUNDS + 1):
        predict_run, bare_run = together([(server, "/predict"), (bare, BARE_ROUTE)], bodies["single"], settings)
        results["together"].append({"predict": predict_run.as_dict(), "bare_flask": bare_run.as_dict()})
        progress(f"  /predict and {BARE_ROUTE} at once, round {number}/{TOGETHER_ROUNDS}: "
                 f"{predict_run.requests_per_s:,.0f} and {bare_run.requests_per_s:,.0f} req/s, server CPU "
                 f"{predict_run.server_cpu_fraction:.0%} and {bare_run.server_cpu_fraction:.0%}, "
                 f"{predict_run.server_cpu_fraction * 1e6 / predict_run.requests_per_s:.0f} and "
                 f"{bare_run.server_cpu_fraction * 1e6 / bare_run.requests_per_s:.0f} µs per request")
    for size in (100, 1000):
        results[f"batch{size}"] = []
        for repeat in range(1, BATCH_REPEATS + 1):
            run = max_rate_run(server, "/predict", bodies[f"batch{size}"], settings)
            results[f"batch{size}"].append(run.as_dict())
            progress(f"  batch of {size} run {repeat}/{BATCH_REPEATS}: {describe(run)} "
                     f"= {run.requests_per_s * size:,.0f} predictions/s")
    target_rps = LATENCY_LOAD_FRACTION * rps(results["predict"])
    results["latency"] = []
    for repeat in range(1, settings.repeats + 1):
        run = watched(server, lambda: run_locust(
            server.url, "/predict", body_file=bodies["single"], duration_s=settings.latency_s, users=LATENCY_USERS,
            rate_rps=target_rps, max_requests=int(settings.latency_s * target_rps * 1.5), cpu=settings.generator_cpu))
        results["latency"].append(run.as_dict())
        progress(f"  /predict offered {target_rps:,.0f} req/s ({LATENCY_LOAD_FRACTION:.0%} of max), "
                 f"run {repeat}/{settings.repeats} (Locust): {describe(run)}")
    return results
