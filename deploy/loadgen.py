"""Run headless Locust (the project's locustfile) as a subprocess and follow its live statistics.

Locust writes ``PREFIX_stats.csv`` (totals), ``PREFIX_stats_history.csv``
(a row a second with ``--csv-full-history``), ``PREFIX_failures.csv`` and
``PREFIX_exceptions.csv``, plus an HTML report, and the locustfile adds
``PREFIX_verdict.json`` (its SLO verdict, the generator's CPU); we keep them all. While it
runs, the newest "Aggregated" row of the history gives the live throughput.

Two kinds of load: the matrix's fixed ``[load]`` (:func:`locust_command`, closed
or open as the matrix says) and an open-model load at a given request rate
(:class:`OpenLoad`, :func:`run_open_load`), which the capacity search and the
overload steps offer.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deploy.matrix import Load
from loadtest.slo import RunStats, Slo, read_stats_csv

LOCUSTFILE = Path("loadtest/locustfile.py")
CSV_PREFIX = "locust"
# Past its --run-time, Locust gets this long to stop users and write its files.
GRACE_S = 30
# How Locust writes a failure the locustfile marked: CatchResponseError('message') or ("message").
CATCH_RESPONSE_ERROR = re.compile(r"""CatchResponseError\((['"])(.*)\1\)""")
POLL_INTERVAL_S = 1.0
# Locust's log lines that open and close an open load's measured window
# (locust/runners.py on --reset-stats, locust/main.py at the end of --run-time),
# after the "[2026-12-02 07:53:55,390] host/INFO/logger: " prefix.
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] ")
WINDOW_OPENS = "Resetting stats"
WINDOW_CLOSES = "--run-time limit reached"
# The locustfile's client of POST /predict (single, batch and invalid requests).
PREDICT_USER = "PredictApiUser"
# A probe's achieved rate below this share of the offered rate measured a queue, not a pass.
MIN_ACHIEVED_SHARE = 0.95


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


@dataclass(frozen=True)
class OpenLoad:
    """An open-model load: ``rate_rps`` requests/s offered on a schedule, whatever the answers.

    ``users`` Locust users each start a request every ``pace_s`` seconds or so
    (``--wait-model constant_throughput``, exactly ``rate_rps / users`` requests/s each),
    spawned evenly over ``ramp_s``; statistics restart when the last user has
    started (``--reset-stats``) and the next ``window_s`` seconds are measured.
    A user waits for its answer before its next request, so the schedule holds
    while answers take less than ``pace_s``: choose it well above the SLO's p99.
    ``user_class`` is a User class of the locustfile (``NginxHealthUser`` asks
    Nginx alone, for the bench's own ceiling).
    """

    rate_rps: float
    window_s: float
    ramp_s: float = 5.0
    pace_s: float = 2.5
    user_class: str = PREDICT_USER

    def __post_init__(self) -> None:
        for name in ("rate_rps", "window_s", "ramp_s", "pace_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"OpenLoad.{name} must be a finite number greater than 0, got {value!r}")

    @property
    def users(self) -> int:
        """Locust users needed: ``ceil(rate_rps x pace_s)``, at least one."""
        return max(1, math.ceil(round(self.rate_rps * self.pace_s, 6)))

    @property
    def throughput_per_user(self) -> float:
        """Requests/s each user starts, so that all of them together offer exactly ``rate_rps``."""
        return self.rate_rps / self.users

    @property
    def spawn_rate(self) -> float:
        """Users started per second: all of them within ``ramp_s``."""
        return self.users / self.ramp_s

    @property
    def run_time_s(self) -> int:
        """Locust's --run-time: the ramp and the window, whole seconds rounded up."""
        return math.ceil(self.ramp_s + self.window_s)


@dataclass(frozen=True)
class OpenLoadRun:
    """An open load that ran: what was offered, what Locust measured over the window, and its files.

    ``stats`` is None when Locust wrote no statistics (its log says why).
    """

    load: OpenLoad
    locust: LocustRun
    stats: RunStats | None
    window_s: float | None = None  # the window as Locust's log timed it; None: not in the log

    @property
    def offered_rps(self) -> float:
        """The rate asked for, requests/s."""
        return self.load.rate_rps

    @property
    def achieved_rps(self) -> float:
        """Requests answered per second over the measured window (0 without statistics): the
        window's requests over its length in Locust's log, else Locust's own Requests/s."""
        if self.stats is None:
            return 0.0
        return self.stats.requests / self.window_s if self.window_s else self.stats.requests_per_s

    @property
    def achieved_share(self) -> float:
        """Achieved over offered rate, 0..1 (a little over 1 by rounding)."""
        return self.achieved_rps / self.offered_rps

    @property
    def kept_pace(self) -> bool:
        """Whether at least MIN_ACHIEVED_SHARE (95%) of the offered rate was answered: else the
        requests queued somewhere, and the figures describe a backlog, not the rate offered."""
        return self.achieved_share >= MIN_ACHIEVED_SHARE


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


def open_load_command(load: OpenLoad, slo: Slo, host_url: str, directory: Path, extra_args: tuple[str, ...] = (),
                      locustfile: Path = LOCUSTFILE) -> list[str]:
    """The headless Locust command that offers ``load`` to ``host_url``, writing into ``directory``.

    Every option that locust.conf also sets is given, so the file cannot change
    the load. The locustfile's own verdict judges ``slo`` with a throughput
    floor of MIN_ACHIEVED_SHARE of the offered rate.
    """
    return [
        locust_executable(), "-f", str(locustfile), "--headless",
        "--host", host_url,
        "--users", str(load.users), "--spawn-rate", f"{load.spawn_rate:g}", "--run-time", f"{load.run_time_s}s",
        "--shape", "none", "--reset-stats",
        "--wait-model", "constant_throughput", "--throughput-per-user", f"{load.throughput_per_user:.6g}",
        "--csv", str(directory / CSV_PREFIX), "--csv-full-history",
        "--html", str(directory / "locust.html"),
        "--only-summary",
        "--slo-max-failure-ratio", f"{slo.max_failure_ratio:g}", "--slo-p95-ms", f"{slo.p95_ms:g}",
        "--slo-p99-ms", f"{slo.p99_ms:g}", "--slo-min-rps", f"{MIN_ACHIEVED_SHARE * load.rate_rps:.6g}",
        *extra_args, load.user_class,
    ]


def run_open_load(load: OpenLoad, slo: Slo, host_url: str, directory: Path, cwd: Path,
                  on_tick: Callable[[float, LiveStats | None], None] = lambda elapsed_s, live: None,
                  extra_args: tuple[str, ...] = ()) -> OpenLoadRun:
    """Offer ``load`` to ``host_url`` with Locust run from ``cwd`` (the repository), its files into ``directory``.

    Returns when Locust has ended (at most the run time + GRACE_S); ``on_tick`` is
    called about once a second with the seconds elapsed and the live figures.
    KeyboardInterrupt stops Locust (it writes its files) and goes on.
    """
    directory.mkdir(parents=True, exist_ok=True)
    command = open_load_command(load, slo, host_url, directory, extra_args)
    locust = run_locust(command, directory, load.run_time_s, cwd, on_tick)
    try:
        stats = read_stats_csv(locust.stats_csv)
    except (OSError, ValueError):
        stats = None
    return OpenLoadRun(load=load, locust=locust, stats=stats, window_s=measured_window_s(locust.log))


def measured_window_s(log: Path) -> float | None:
    """Seconds from Locust's "Resetting stats" to its "--run-time limit reached" in ``log``, or None.

    Locust's own Requests/s divides by the time to the last answer, which makes a
    short window look faster than it was; the log times the window itself.
    """
    opened = closed = None
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        match = LOG_TIME.match(line)
        if not match:
            continue
        if WINDOW_OPENS in line:
            opened = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        elif WINDOW_CLOSES in line and opened is not None:
            closed = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    if opened is None or closed is None or closed <= opened:
        return None
    return (closed - opened).total_seconds()


def read_live(history_csv: Path) -> LiveStats | None:
    """The newest "Aggregated" row of a stats_history CSV; None before Locust wrote one, and while
    its rows are those it writes before any user started (no users, no requests)."""
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
        requests_per_s=float(row["Requests/s"]),
        requests=int(row["Total Request Count"]),
        failures=int(row["Total Failure Count"]),
        p95_ms=None if p95 in ("N/A", "") else float(p95),
    )
    return None if live.users == 0 and live.requests == 0 else live


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
    return verdict.get("generator_saturated") is True


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
