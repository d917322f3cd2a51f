"""Run Locust headless as a subprocess, bounded in time, and read what it wrote.

The command line (:func:`headless_command`) starts a locustfile with its users,
spawn rate and run time, and, when asked, the CSV files: ``PREFIX_stats.csv``
(totals), ``PREFIX_stats_history.csv`` (a row a second with
``--csv-full-history``), ``PREFIX_failures.csv`` and ``PREFIX_exceptions.csv``;
the project's locustfile adds ``PREFIX_verdict.json`` (its SLO verdict, the
generator's CPU). :func:`run_locust` runs a command to its end, at most its run
time plus GRACE_S, following the newest "Aggregated" history row as live figures.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CSV_PREFIX = "locust"
# Past its --run-time, Locust gets this long to stop users and write its files.
GRACE_S = 30
POLL_INTERVAL_S = 1.0
# The live rate: answers over the last seconds of the history's running totals, once they span 2 s.
RATE_WINDOW_S = 5
MIN_RATE_SPAN_S = 2
# How Locust writes a failure the locustfile marked: CatchResponseError('message') or ("message").
CATCH_RESPONSE_ERROR = re.compile(r"""CatchResponseError\((['"])(.*)\1\)""")


@dataclass(frozen=True)
class LiveStats:
    """Locust's history now: users, requests and failures since its statistics started (or were reset),
    answers per second over the last seconds, and Locust's p95 (ms) of them; a rate or p95 of None is
    one not formed yet (see ``read_live``)."""

    users: int
    requests_per_s: float | None
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


def headless_command(locustfile: Path, host_url: str, *, users: int, spawn_rate: float, run_time_s: float,
                     directory: Path | None = None, options: Sequence[str] = ()) -> list[str]:
    """``locust -f LOCUSTFILE --headless`` against ``host_url`` with ``users`` started at ``spawn_rate``
    users/s for ``run_time_s`` seconds, printing only its summary.

    With ``directory``: the CSV files (``directory``/CSV_PREFIX_*, full history)
    and the HTML report (``directory``/locust.html). ``options`` (the locustfile's
    own, user classes last) follow.
    """
    files = [] if directory is None else ["--csv", str(directory / CSV_PREFIX), "--csv-full-history",
                                          "--html", str(directory / "locust.html")]
    return [
        locust_executable(), "-f", str(locustfile), "--headless",
        "--host", host_url,
        "--users", str(users), "--spawn-rate", f"{spawn_rate:g}", "--run-time", f"{run_time_s:g}s",
        *files, "--only-summary", *options,
    ]


def run_locust(command: list[str], directory: Path, duration_s: float, cwd: Path,
               on_tick: Callable[[float, LiveStats | None], None] = lambda elapsed_s, live: None) -> LocustRun:
    """Run ``command`` (writing its CSV files into ``directory``) from ``cwd`` to its end, its output into
    ``directory``/locust.log; at most ``duration_s`` + GRACE_S, calling ``on_tick`` about once a second
    with the seconds elapsed and the live figures.

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


def read_live(history_csv: Path) -> LiveStats | None:
    """The live figures from the "Aggregated" rows of a stats_history CSV; None before Locust wrote one, and
    while its rows are those it writes before any user started (no users, no requests).

    Users, totals and p95 are the newest row's. The rate is the requests answered over the last
    RATE_WINDOW_S seconds, from the rows' running totals (``Total Request Count`` at their
    ``Timestamp``), not Locust's own Requests/s: that is the mean of its per-second counts over the
    seconds 12 to 3 before its latest answer (locust/stats.py, ``current_rps``), which lags a changing
    load by up to 12 s and is 0 during the first 3 s of its statistics. The rate is None until the
    rows since the statistics (re)started span MIN_RATE_SPAN_S, and the p95 None where Locust wrote
    0 for want of a snapshot 2 to 18 s old (``get_current_response_time_percentile``), not 0.
    """
    try:
        with history_csv.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    except OSError:
        return None
    if not rows:
        return None
    row = rows[-1]
    p95 = row.get("95%", "N/A")
    live = LiveStats(
        users=int(row["User Count"]),
        requests_per_s=_recent_rate(rows),
        requests=int(row["Total Request Count"]),
        failures=int(row["Total Failure Count"]),
        p95_ms=None if p95 in ("N/A", "") else float(p95) or None,
    )
    return None if live.users == 0 and live.requests == 0 else live


def _recent_rate(rows: list[dict[str, str]]) -> float | None:
    """Requests answered per second between the newest row and the oldest one within RATE_WINDOW_S of it
    that the same statistics wrote (running totals never fall; a fall is ``--reset-stats``); None when
    those rows span less than MIN_RATE_SPAN_S."""
    newest_s, newest_total = int(rows[-1]["Timestamp"]), int(rows[-1]["Total Request Count"])
    oldest_s, oldest_total = newest_s, newest_total
    for row in reversed(rows[:-1]):
        at_s, total = int(row["Timestamp"]), int(row["Total Request Count"])
        if total > oldest_total or newest_s - at_s > RATE_WINDOW_S:
            break
        oldest_s, oldest_total = at_s, total
    span_s = newest_s - oldest_s
    return (newest_total - oldest_total) / span_s if span_s >= MIN_RATE_SPAN_S else None


def failures_by_name(stats_csv: Path) -> dict[str, int]:
    """Locust's ``PREFIX_stats.csv``: request name -> failures, without the Aggregated row.
    Raises OSError when the file is missing."""
    with stats_csv.open(newline="", encoding="utf-8") as file:
        return {row["Name"]: int(row["Failure Count"]) for row in csv.DictReader(file) if row["Type"]}


def measured_window_s(directory: Path) -> float | None:
    """The seconds the figures of the locustfile's verdict (``locust_verdict.json`` in ``directory``) cover, from
    the start of the figures to the users' stop (``loadtest.results.measured_window_s``); None when not written."""
    window_s = _verdict_document(directory).get("window_s")
    return float(window_s) if isinstance(window_s, (int, float)) and window_s > 0 else None


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
    """Whether the locustfile's verdict (``locust_verdict.json`` in ``directory``) says the generator ran out of CPU."""
    return _verdict_document(directory).get("generator_saturated") is True


def _verdict_document(directory: Path) -> dict:
    """The verdict file the locustfile wrote in ``directory``; {} when it is missing or not a JSON object."""
    try:
        document = json.loads((directory / f"{CSV_PREFIX}_verdict.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


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
