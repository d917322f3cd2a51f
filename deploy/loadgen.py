"""The experiments' loads on the project's locustfile, run headless by ``loadtest.runner``.

Locust's files (statistics, history, failures, the locustfile's verdict, an HTML
report) are kept in each run's directory; while it runs, the newest "Aggregated"
row of the history gives the live throughput.

Two kinds of load: the matrix's fixed ``[load]`` (:func:`locust_command`, closed
or open as the matrix says) and an open-model load at a given request rate
(:class:`OpenLoad`, :func:`run_open_load`), which the capacity search and the
overload steps offer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.matrix import Load
from loadtest.runner import LiveStats, LocustRun, headless_command, measured_window_s, run_locust
from loadtest.slo import RunStats, Slo, read_stats_csv

LOCUSTFILE = Path("loadtest/locustfile.py")
# The locustfile's client of POST /predict (single, batch and invalid requests).
PREDICT_USER = "PredictApiUser"
# A probe's achieved rate below this share of the offered rate measured a queue, not a pass.
MIN_ACHIEVED_SHARE = 0.95


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
    window_s: float | None = None  # the window as the locustfile timed it (its verdict file); None: not written

    @property
    def offered_rps(self) -> float:
        """The rate asked for, requests/s."""
        return self.load.rate_rps

    @property
    def achieved_rps(self) -> float:
        """Requests answered per second over the measured window (0 without statistics): the
        window's requests over its length as the verdict file gives it, else Locust's own Requests/s."""
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


def locust_command(load: Load, slo: Slo, host_url: str, directory: Path, extra_args: tuple[str, ...] = (),
                   locustfile: Path = LOCUSTFILE) -> list[str]:
    """The headless Locust command for ``load`` against ``host_url``, writing into ``directory``.

    The SLO goes to the locustfile too, so its own verdict (logged, and in
    ``locust_verdict.json``) is the matrix's. ``extra_args`` come last, e.g.
    ``("--master", "--expect-workers", "4")`` to let workers on other machines make the load.
    """
    return headless_command(locustfile, host_url, users=load.users, spawn_rate=load.spawn_rate,
                            run_time_s=load.duration_s, directory=directory, options=[
        "--shape", load.shape,
        "--slo-max-failure-ratio", f"{slo.max_failure_ratio:g}", "--slo-p95-ms", f"{slo.p95_ms:g}",
        "--slo-p99-ms", f"{slo.p99_ms:g}", "--slo-min-rps", f"{slo.min_rps:g}",
        *extra_args,
    ])


def open_load_command(load: OpenLoad, slo: Slo, host_url: str, directory: Path, extra_args: tuple[str, ...] = (),
                      locustfile: Path = LOCUSTFILE) -> list[str]:
    """The headless Locust command that offers ``load`` to ``host_url``, writing into ``directory``.

    Every option that locust.conf also sets is given, so the file cannot change
    the load. The locustfile's own verdict judges ``slo`` with a throughput
    floor of MIN_ACHIEVED_SHARE of the offered rate.
    """
    return headless_command(locustfile, host_url, users=load.users, spawn_rate=load.spawn_rate,
                            run_time_s=load.run_time_s, directory=directory, options=[
        "--shape", "none", "--reset-stats",
        "--wait-model", "constant_throughput", "--throughput-per-user", f"{load.throughput_per_user:.6g}",
        "--slo-max-failure-ratio", f"{slo.max_failure_ratio:g}", "--slo-p95-ms", f"{slo.p95_ms:g}",
        "--slo-p99-ms", f"{slo.p99_ms:g}", "--slo-min-rps", f"{MIN_ACHIEVED_SHARE * load.rate_rps:.6g}",
        *extra_args, load.user_class,
    ])


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
    return OpenLoadRun(load=load, locust=locust, stats=stats, window_s=measured_window_s(directory))
