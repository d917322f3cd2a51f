"""Run headless Locust (the project's locustfile) as a subprocess and follow its live statistics.

Locust writes ``PREFIX_stats.csv`` (totals), ``PREFIX_stats_history.csv``
(a row a second with ``--csv-full-history``), ``PREFIX_failures.csv`` and
``PREFIX_exceptions.csv``, plus an HTML report, and the locustfile adds
``PREFIX_verdict.json`` (its SLO verdict, the generator's CPU); we keep them all. While it
runs, the newest "Aggregated" row of the history gives the live throughput.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.matrix import Load
from loadtest.slo import Slo

LOCUSTFILE = Path("loadtest/locustfile.py")
CSV_PREFIX = "locust"
# The locustfile's verdict names a saturated generator with this prefix
# (loadtest/selfwatch.py, saturation_reason).
SATURATION_REASON = "generator CPU saturated"
# Past its --run-time, Locust gets this long to stop users and write its files.
GRACE_S = 30
# How Locust writes a failure the locustfile marked: CatchResponseError('message') or ("message").
CATCH_RESPONSE_ERROR = re.compile(r"""CatchResponseError\((['"])(.*)\1\)""")
POLL_INTERVAL_S = 1.0


@dataclass(frozen=True)
class LiveStats:
    """The newest row of Locust's history: users, req/s over the last seconds, totals, p95 so far."""

    users: int
    requests_per_s: float
    requests: int
    failures: int
    p95_ms: float | None


@dataclass(frozen=True)
class LocustRun:
    """A finished Locust process: exit code, its files, whether it ran out of CPU."""

    exit_code: int
    stats_csv: Path
    history_csv: Path
    log: Path
    generator_saturated: bool


def locust_executable() -> str:
    """The locust script beside the running interpreter (the .venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("locust")
    return str(beside) if beside.exists() else (shutil.which("locust") or "locust")


def locust_command(load: Load, slo: Slo, host_url: str, directory: Path, extra_args: tuple[str, ...] = (),
                   locustfile: Path = LOCUSTFILE) -> list[str]:
    """The headless Locust command for ``load`` against ``host_url``, writing into ``directory``.

    The SLO goes to the locustfile too, so its own verdict (logged, and in
    ``locust_verdict.json``) is the matrix's. ``extra_args`` come last, e.g.
    ``("--master", "--expect-workers", "4")`` to let workers on other machines make the load.
    """
    return [
        locust_executable(), "-f", str(locustfile), "--headless",
        "--host", host_url,
        "--users", str(load.users), "--spawn-rate", f"{load.spawn_rate:g}", "--run-time", f"{load.duration_s}s",
        "--shape", load.shape,
        "--csv", str(directory / CSV_PREFIX), "--csv-full-history",
        "--html", str(directory / "locust.html"),
        "--only-summary",
        "--slo-max-failure-ratio", f"{slo.max_failure_ratio:g}", "--slo-p95-ms", f"{slo.p95_ms:g}",
        "--slo-p99-ms", f"{slo.p99_ms:g}", "--slo-min-rps", f"{slo.min_rps:g}",
        *extra_args,
    ]


def read_live(history_csv: Path) -> LiveStats | None:
    """The newest "Aggregated" row of a stats_history CSV, or None before Locust wrote one."""
    try:
        with history_csv.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    except OSError:
        return None
    if not rows:
        return None
    row = rows[-1]
    p95 = row.get("95%", "N/A")
    return LiveStats(
        users=int(row["User Count"]),
        requests_per_s=float(row["Requests/s"]),
        requests=int(row["Total Request Count"]),
        failures=int(row["Total Failure Count"]),
        p95_ms=None if p95 in ("N/A", "") else float(p95),
    )


def run_locust(command: list[str], directory: Path, duration_s: int, cwd: Path,
               on_tick: Callable[[float, LiveStats | None], None] = lambda elapsed_s, live: None) -> LocustRun:
    """Run ``command`` to its end (at most ``duration_s`` + GRACE_S), calling ``on_tick`` about once a second.

    On KeyboardInterrupt Locust gets SIGINT (it stops and writes its files) before the interrupt goes on.
    """
    log = directory / "locust.log"
    history = directory / f"{CSV_PREFIX}_stats_history.csv"
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            while process.poll() is None:
                elapsed_s = time.monotonic() - started
                if elapsed_s > duration_s + GRACE_S:
                    _stop(process)
                    break
                on_tick(elapsed_s, read_live(history))
                time.sleep(POLL_INTERVAL_S)
        except BaseException:
            _stop(process)
            raise
    return LocustRun(exit_code=process.returncode, stats_csv=directory / f"{CSV_PREFIX}_stats.csv",
                     history_csv=history, log=log, generator_saturated=generator_saturated(directory))


def main_failure(failures_csv: Path) -> str | None:
    """The most frequent failure in Locust's ``PREFIX_failures.csv`` with its share of all failures,
    e.g. "HTTP 502 bad_gateway (88% of failures)"; None when nothing failed or the file is missing."""
    try:
        with failures_csv.open(newline="", encoding="utf-8") as handle:
            rows = [(int(row["Occurrences"]), row["Error"]) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError):
        return None
    total = sum(count for count, _ in rows)
    if not total:
        return None
    count, error = max(rows)
    # The locustfile reports its checks as CatchResponseError('...'); the message inside is what matters.
    match = CATCH_RESPONSE_ERROR.fullmatch(error)
    return f"{match.group(2) if match else error} ({count / total:.0%} of failures)"


def generator_saturated(directory: Path) -> bool:
    """Whether the locustfile's verdict (``locust_verdict.json``) says the generator ran out of CPU."""
    try:
        verdict = json.loads((directory / f"{CSV_PREFIX}_verdict.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(str(reason).startswith(SATURATION_REASON) for reason in verdict.get("reasons", ()))


def _stop(process: subprocess.Popen) -> None:
    """SIGINT first (Locust stops cleanly and writes its CSVs), then SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
