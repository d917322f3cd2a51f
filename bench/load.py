"""Load generators: wrk at full speed, Locust at full speed or at a fixed rate.

Each run is bounded in time and in requests, stops by itself, and reports how
busy the generator itself was (``generator_cpu_fraction``: its CPU seconds per
wall second, 1.0 = one core fully used), so a result limited by the generator
rather than the server can be refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.runner import headless_command

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk.lua"
LOCUSTFILE = HERE / "locustfile.py"
# The environment variable that tells wrk.lua where to write its summary.
WRK_SUMMARY_ENV = "BENCH_WRK_SUMMARY"
# A run that does not end this long after its planned duration is killed.
OVERRUN_S = 30.0
# Far above what one Python worker can answer: the bound only stops a runaway run.
MAX_REQUESTS_PER_S = 100_000
WRK_INSTALL_HINT = "install wrk (Debian/Ubuntu: `sudo apt-get install wrk`; macOS: `brew install wrk`)"


class LoadError(RuntimeError):
    """A load generator failed or printed nothing we can read."""


@dataclass(frozen=True)
class LoadRun:
    """One bounded run of one generator against one path.

    ``p50_ms``/``p99_ms`` are the generator's latency percentiles (wrk: its
    HdrHistogram, at full speed; Locust: every response time, at the offered
    rate). ``target_rps`` is the offered rate of a rate-limited run, else None.
    ``server_cpu_fraction`` is the server's CPU seconds per wall second during
    the run, and ``others_cpu_fraction`` the share of the server's cores that
    everything else (other processes, the hypervisor's steal) used meanwhile;
    ``server_p50_ms``/``server_p99_ms`` are the server's own request times from
    its access log; each when the caller measured it.
    """

    tool: str
    path: str
    requests: int
    errors: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    generator_cpu_fraction: float
    target_rps: float | None = None
    server_cpu_fraction: float | None = None
    others_cpu_fraction: float | None = None
    server_p50_ms: float | None = None
    server_p99_ms: float | None = None
    error_kinds: dict[str, int] | None = None

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values, ``requests_per_s`` included."""
        return {**self.__dict__, "requests_per_s": self.requests_per_s}


def wrk_available() -> bool:
    """True when the ``wrk`` command is on PATH."""
    return shutil.which("wrk") is not None


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    """``command`` run on one CPU with ``taskset``, or as is when ``cpu`` is None."""
    return ["taskset", "-c", str(cpu), *command] if cpu is not None else command


def _run_measured(command: list[str], limit_s: float, cwd: str | None = None,
                  env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run ``command`` to its end (with ``env`` added to this process's environment); return (output,
    wall seconds, CPU seconds it used).

    The CPU time comes from the kernel's accounting of the exited child
    (``os.wait4``), so it counts the generator alone. Killed after ``limit_s``.
    """
    with tempfile.TemporaryFile(mode="w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd,
                                   env={**os.environ, **env} if env else None)
        watchdog = threading.Timer(limit_s, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise LoadError(f"`{' '.join(command[:6])} ...` exited with {process.returncode}: {text[-500:]}")
    return text, wall_s, usage.ru_utime + usage.ru_stime


def read_wrk_summary(summary_file: Path, output: str, path: str, cpu_s: float, wall_s: float) -> LoadRun:
    """The run ``wrk.lua`` summarised as JSON in ``summary_file``; ``output`` is what wrk printed, quoted in the
    ``LoadError`` raised when the summary is missing or not JSON."""
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LoadError(f"wrk wrote no summary ({error}): {output[-500:]}") from error
    return LoadRun(
        tool="wrk",
        path=path,
        requests=summary["requests"],
        errors=sum(summary["errors"].values()),
        duration_s=summary["duration_us"] / 1e6,
        p50_ms=summary["latency_us"]["p50"] / 1000,
        p99_ms=summary["latency_us"]["p99"] / 1000,
        generator_cpu_fraction=cpu_s / wall_s if wall_s > 0 else 0.0,
        error_kinds={kind: count for kind, count in summary["errors"].items() if count},
    )


def run_wrk(
    url: str, path: str, *, body_file: Path | None, duration_s: float, connections: int,
    max_requests: int, cpu: int | None,
) -> LoadRun:
    """Drive ``url + path`` with wrk (one thread, ``connections`` keep-alive connections)
    as fast as the server answers, for ``duration_s`` or ``max_requests``, whichever ends first.

    POSTs ``body_file`` as JSON, or GETs when it is None. Raises ``LoadError``.
    """
    method = "POST" if body_file else "GET"
    command = pinned(cpu, [
        "wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--timeout", "5s", "-s", str(WRK_SCRIPT),
        url + path, "--", method, str(body_file) if body_file else "-", str(max_requests),
    ])
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        summary_file = Path(scratch) / "summary.json"
        text, wall_s, cpu_s = _run_measured(command, duration_s + OVERRUN_S, env={WRK_SUMMARY_ENV: str(summary_file)})
        return read_wrk_summary(summary_file, text, path, cpu_s, wall_s)


def summarise_samples(document: dict[str, Any], path: str, warmup_s: float, target_rps: float | None) -> LoadRun:
    """Turn the samples ``locustfile.py`` wrote into a run, leaving out the first ``warmup_s``.

    ``document``: ``{"samples": [[seconds_since_start, response_time_ms, ok], ...],
    "wall_s", "cpu_s"}``. Percentiles are numpy's (linear interpolation) over
    every response time, not Locust's own stats, which round to whole
    milliseconds below 100 ms (``locust.stats.bucket_response_time``)
    and so cannot resolve a sub-millisecond service.
    Raises ``LoadError`` when no sample falls after the warm-up.
    """
    samples = np.asarray(document["samples"], dtype=np.float64).reshape(-1, 3)
    kept = samples[samples[:, 0] >= warmup_s]
    if len(kept) == 0:
        raise LoadError(f"Locust recorded no response after its {warmup_s:g} s warm-up on {path}")
    ok = kept[kept[:, 2] == 1.0]
    latencies = ok[:, 1] if len(ok) else kept[:, 1]
    span_s = float(kept[-1, 0] - warmup_s)
    wall_s = document["wall_s"]
    return LoadRun(
        tool="locust",
        path=path,
        requests=len(kept),
        errors=int(len(kept) - len(ok)),
        duration_s=span_s,
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
        generator_cpu_fraction=document["cpu_s"] / wall_s if wall_s > 0 else 0.0,
        target_rps=target_rps,
    )


def run_locust(
    url: str, path: str, *, body_file: Path | None, duration_s: float, users: int, rate_rps: float | None,
    max_requests: int, cpu: int | None, warmup_s: float = 1.0,
) -> LoadRun:
    """Drive ``url + path`` with headless Locust (``FastHttpUser``): at ``rate_rps`` in all
    (Locust's ``constant_throughput`` per user), or as fast as possible when None.

    Bounded by ``duration_s`` and ``max_requests``. Raises ``LoadError``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as scratch:
        samples_file = Path(scratch) / "samples.json"
        per_user_rps = rate_rps / users if rate_rps else 0.0
        command = pinned(cpu, headless_command(LOCUSTFILE, url, users=users, spawn_rate=users, run_time_s=duration_s, options=[
            "--loglevel", "WARNING", "--exit-code-on-error", "0", "--stop-timeout", "2",
            "--bench-path", path, "--bench-body-file", str(body_file or ""),
            "--bench-user-rps", f"{per_user_rps:.6f}", "--bench-max-requests", str(max_requests),
            "--bench-samples-file", str(samples_file),
        ]))
        # Run from the scratch directory: Locust would read a locust.conf in the working
        # directory, and the project's own (for loadtest/) sets options this file does not know.
        text, _, _ = _run_measured(command, duration_s + OVERRUN_S, cwd=scratch)
        if not samples_file.exists():
            raise LoadError(f"Locust wrote no samples: {text[-500:]}")
        document = json.loads(samples_file.read_text())
    return summarise_samples(document, path, warmup_s, rate_rps)


def run_max(url: str, path: str, *, body_file: Path | None, duration_s: float, connections: int, cpu: int | None) -> LoadRun:
    """One run as fast as the server answers: wrk when installed, else Locust with
    ``connections`` users (which may well saturate first; the run says so)."""
    bound = int(duration_s * MAX_REQUESTS_PER_S)
    if wrk_available():
        return run_wrk(url, path, body_file=body_file, duration_s=duration_s, connections=connections,
                       max_requests=bound, cpu=cpu)
    return run_locust(url, path, body_file=body_file, duration_s=duration_s + 1, users=connections,
                      rate_rps=None, max_requests=bound, cpu=cpu)
