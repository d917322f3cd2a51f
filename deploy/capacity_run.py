"""``deploy capacity``: search each configuration's capacity on its stack, brought up once.

:func:`measure_capacity` is the runner's ``measure`` for a capacity search
(``deploy.runner.run_matrix`` brings each stack up and down around it). Before
the first configuration it measures the bench's own ceiling on that stack:
Locust against Nginx's ``/nginx-health``, which no replica answers, searched the
same way (:func:`measure_ceiling`); the figure is kept in the run directory's
``ceiling.json`` so a resumed run reuses it.

Each probe (:func:`run_probe`): the open load of ``deploy.loadgen`` at one rate
(ramp, measured window), the replicas' stats sampled meanwhile, a pause of
``drain_s`` for queues to drain, then a health check of every replica. A probe
that left a replica down or unhealthy brings the stack up again before the next.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.capacity import RunFacts, SearchLimits, capacity_result, outcomes, rejudge_capacity
from deploy.containers import gunicorn_workers, restart_count, service_containers
from deploy.loadgen import PREDICT_USER, OpenLoad, run_open_load
from deploy.matrix import Matrix, Search
from deploy.outcome import unmeasured_result
from deploy.probe import ProbeEvents, ProbeResult, probe_result, write_probes
from deploy.progress import live_figures
from deploy.readiness import unhealthy_replicas, wait_ready
from deploy.results import ERROR, ConfigurationResult, load_results
from deploy.rundir import Plan
from deploy.runner import ReadyStack, locust_error
from deploy.sampling import SAMPLES_FILE, StatsSampler, summarize, write_samples
from deploy.search import bracket, conclude, next_rate
from loadtest.runner import LiveStats

CEILING_FILE = "ceiling.json"
CEILING_DIR = "00-ceiling"
PROBES_FILE = "probes.csv"
NGINX_HEALTH_USER = "NginxHealthUser"
# Nginx answers /nginx-health in about a millisecond: a few fast users make the rate,
# so the ceiling measures requests, not connections.
CEILING_PACE_S = 0.05
# The ceiling search starts at the highest rate a configuration's search may offer and
# looks up to this many times higher, with this bracket, ramp, drain and budget.
CEILING_REACH = 8
CEILING_BRACKET = 0.25
CEILING_RAMP_S = 2.0
CEILING_DRAIN_S = 2.0
CEILING_PROBES = 3
# Starting Locust and reading its files, and the health check: seconds a probe takes
# beyond its ramp, window and drain (measured: 1-2 s on a 2-CPU host).
PROBE_OVERHEAD_S = 2.0
# After a probe that left a replica down, how long the stack gets to be ready again.
RECOVER_TIMEOUT_S = 120.0


class LocustFailed(RuntimeError):
    """Locust ended a probe without statistics: the tooling failed, not the configuration; the message says why."""


@dataclass(frozen=True)
class Ceiling:
    """The bench's ceiling: the highest rate Locust on this host got Nginx to answer within the rules, req/s
    (None when not even the first probe passed), and its probes."""

    ceiling_rps: float | None
    probes: tuple[ProbeResult, ...]

    def to_dict(self) -> dict[str, object]:
        return {"ceiling_rps": self.ceiling_rps, "probes": [probe.to_dict() for probe in self.probes]}

    @classmethod
    def from_dict(cls, data: dict) -> Ceiling:
        return cls(data["ceiling_rps"], tuple(ProbeResult.from_dict(probe) for probe in data["probes"]))


def read_ceiling(run_dir: Path) -> Ceiling | None:
    """The ceiling a run directory kept, or None when it has not been measured (or its file is damaged)."""
    try:
        return Ceiling.from_dict(json.loads((run_dir / CEILING_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def search_limits(search: Search, ceiling: Ceiling | None, host_cpus: int | None) -> SearchLimits:
    """What bounds a configuration's search on a host of ``host_cpus``: the highest rate it offers (what
    max_users at pace_s offer, and no more than the bench's ceiling), the ceiling, the host's CPUs."""
    if ceiling is None or ceiling.ceiling_rps is None:
        return SearchLimits(search.max_rps, None, host_cpus)
    return SearchLimits(min(search.max_rps, ceiling.ceiling_rps), ceiling.ceiling_rps, host_cpus)


@dataclass(frozen=True)
class ProbeSeries:
    """What every probe of one search offers and where it keeps its files: the Locust user class, its pace
    (seconds between one user's requests), ramp and drain, seconds; the directory of the probes' own
    directories; the label of the progress line ("ceiling", or the configuration's name)."""

    label: str
    directory: Path
    user_class: str
    pace_s: float
    ramp_s: float
    drain_s: float

    @classmethod
    def of_search(cls, search: Search, label: str, directory: Path) -> ProbeSeries:
        """A configuration's probes: its API users at the matrix's pace, ramp and drain."""
        return cls(label, directory, PREDICT_USER, search.pace_s, search.ramp_s, search.drain_s)


def run_probe(ready: ReadyStack, series: ProbeSeries, containers: list, number: int, rate_rps: float) -> ProbeResult:
    """Offer ``rate_rps`` to ``ready``'s target for its matrix's search window, sample ``containers``, drain,
    check their health; the probe judged under the matrix's SLO.

    Its files (Locust's, samples.csv) go into ``series.directory/probe-NN-<rate>rps``. Raises LocustFailed
    when Locust wrote no statistics.
    """
    search, slo, progress = ready.matrix.search, ready.matrix.slo, ready.progress
    load = OpenLoad(rate_rps=rate_rps, window_s=search.window_s, ramp_s=series.ramp_s, pace_s=series.pace_s,
                    user_class=series.user_class)
    probe_dir = series.directory / f"probe-{number:02d}-{rate_rps:g}rps"
    restarts_before = sum(restart_count(container) for container in containers)
    kills_before = ready.oom_watch.kills(containers) if containers else 0

    def on_tick(elapsed_s: float, live: LiveStats | None) -> None:
        phase = "ramp" if elapsed_s < load.ramp_s else "window"
        progress.status(ready.position, f"{series.label} probe {number}: {rate_rps:g} req/s offered, {phase} "
                                        f"{min(elapsed_s, load.run_time_s):.0f}/{load.run_time_s}s: "
                                        f"{live_figures(live, users=False)}")

    sampler = StatsSampler(containers).start()
    try:
        run = run_open_load(load, slo, target_url(ready), probe_dir, ready.stack.root, on_tick,
                            ready.options.locust_args)
    finally:
        samples = sampler.stop()
    write_samples(samples, probe_dir / SAMPLES_FILE)
    if run.stats is None:
        why = locust_error(run.locust.log) or f"see {probe_dir.name}/{run.locust.log.name}"
        raise LocustFailed(f"Locust wrote no statistics at {rate_rps:g} req/s (exit {run.locust.exit_code}): {why}")
    time.sleep(series.drain_s)
    for container in containers:
        container.reload()
    in_window = [sample for sample in samples if sample.elapsed_s >= load.ramp_s]
    events = ProbeEvents(
        generator_saturated=run.locust.generator_saturated,
        oom_kills=(ready.oom_watch.kills(containers) - kills_before) if containers else 0,
        restarts=sum(restart_count(container) for container in containers) - restarts_before,
        unhealthy=unhealthy_replicas(containers),
    )
    return probe_result(number=number, offered_rps=rate_rps, achieved_rps=run.achieved_rps, users=load.users,
                        stats=run.stats, summary=summarize(in_window), slo=slo, events=events,
                        artifacts=probe_dir.name)


def target_url(ready: ReadyStack) -> str:
    """Where Locust's users send their requests: ``--target``, else Nginx's published port."""
    return ready.options.target_url or ready.stack.url


def describe_probe(probe: ProbeResult, probes: list[ProbeResult]) -> str:
    """One progress line: offered and achieved rate, p95, the verdict, the current bracket."""
    low, high = bracket(outcomes(probes))
    window = f"[{'–' if low is None else f'{low:g}'}, {'–' if high is None else f'{high:g}'}) req/s"
    p95 = f"{probe.p95_ms:g} ms" if probe.p95_ms is not None else "–"
    verdict = "pass" if probe.passed else "fail: " + "; ".join(probe.reasons)
    return (f"probe {probe.number}: offered {probe.offered_rps:g} req/s ({probe.users} users), achieved "
            f"{probe.achieved_rps:.1f}, p95 {p95}: {verdict}; bracket {window}")


def measure_ceiling(ready: ReadyStack, directory: Path) -> Ceiling:
    """Search the highest rate Locust gets Nginx's own /nginx-health answered at within the rules
    (from the search's highest rate up to CEILING_REACH times it), its probes kept in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    search, progress = ready.matrix.search, ready.progress
    series = ProbeSeries("ceiling", directory, NGINX_HEALTH_USER, CEILING_PACE_S, CEILING_RAMP_S, CEILING_DRAIN_S)
    probes: list[ProbeResult] = []
    reach = CEILING_REACH * search.max_rps
    while (rate := next_rate(outcomes(probes), search.max_rps, reach, CEILING_BRACKET, CEILING_PROBES)) is not None:
        probe = run_probe(ready, series, [], len(probes) + 1, rate)
        probes.append(probe)
        progress.line(f"{progress.prefix(ready.position)} ceiling (Locust -> Nginx /nginx-health): "
                      f"{describe_probe(probe, probes)}")
    found = conclude(outcomes(probes), reach, CEILING_BRACKET)
    return Ceiling(found.capacity_rps, tuple(probes))


def measure_capacity(ready: ReadyStack) -> ConfigurationResult:
    """The runner's ``measure`` for ``deploy capacity``: the bench's ceiling first (once per run), then the search.

    A probe Locust ended without statistics makes the configuration an ERROR (``--resume`` tries it again).
    """
    try:
        return _search(ready)
    except LocustFailed as error:
        return unmeasured_result(ready.configuration, ERROR, str(error), ready.started_at, ready.directory.name,
                                 ready.ready_s)


def _search(ready: ReadyStack) -> ConfigurationResult:
    configuration, directory, stack, progress, position = (ready.configuration, ready.directory, ready.stack,
                                                           ready.progress, ready.position)
    run_dir = directory.parent
    search = ready.matrix.search
    ceiling = read_ceiling(run_dir)
    if ceiling is None:
        progress.line(f"{progress.prefix(position)} measuring the bench's ceiling first: Locust against Nginx's "
                      f"/nginx-health, from {search.max_rps:g} req/s")
        ceiling = measure_ceiling(ready, run_dir / CEILING_DIR)
        (run_dir / CEILING_FILE).write_text(json.dumps(ceiling.to_dict(), indent=2) + "\n", encoding="utf-8")
        shown = f"{ceiling.ceiling_rps:g} req/s" if ceiling.ceiling_rps is not None else "not even the first rate"
        progress.line(f"{progress.prefix(position)} bench ceiling: {shown}")
    limits = search_limits(search, ceiling, ready.host_cpus)
    containers = service_containers(ready.client, stack.project)
    workers = tuple(gunicorn_workers(container) for container in containers)
    series = ProbeSeries.of_search(search, configuration.name, directory)
    probes: list[ProbeResult] = []
    while (rate := next_rate(outcomes(probes), search.start_rps, limits.max_rps, search.bracket, search.max_probes)) is not None:
        probe = run_probe(ready, series, containers, len(probes) + 1, rate)
        probes.append(probe)
        write_probes(probes, directory / PROBES_FILE)
        progress.line(f"{progress.prefix(position)} {configuration.name}: {describe_probe(probe, probes)}")
        if probe.unhealthy or probe.restarts or probe.oom_kills:
            containers = _recover(ready)
    run = RunFacts(workers, ready.started_at, directory.name, ready.ready_s, os.getloadavg()[0])
    return capacity_result(configuration, search, probes, limits, run)


def _recover(ready: ReadyStack) -> list:
    """Bring the stack up again after a probe left a replica down; the replicas' containers now."""
    configuration, stack, progress, position = ready.configuration, ready.stack, ready.progress, ready.position
    progress.line(f"{progress.prefix(position)} {configuration.name}: a replica is down or unhealthy; "
                  "bringing the stack up again before the next probe")
    up = stack.start(configuration, ready.directory / "compose.log")
    readiness = wait_ready(ready.client, stack.project, configuration, up, ready.directory / "compose.log",
                           f"{stack.url}/ready", ready.oom_watch, min(ready.options.ready_timeout_s, RECOVER_TIMEOUT_S))
    if not readiness.ready:
        progress.line(f"{progress.prefix(position)} {configuration.name}: still not ready: {readiness.reason}")
    return service_containers(ready.client, stack.project)


def judge_capacity_again(run_dir: Path, matrix: Matrix, plan: Plan) -> list[ConfigurationResult]:
    """The finished configurations of ``plan`` in ``run_dir`` judged again from their kept probes under
    ``matrix``'s SLO and search settings, in matrix order. Writes nothing. Raises UnreadableResult for a
    damaged result.json."""
    by_index = {configuration.index: configuration for configuration in matrix.configurations}
    limits = search_limits(matrix.search, read_ceiling(run_dir), plan.host.cpus)
    return [rejudge_capacity(result, by_index[result.index], matrix.search, matrix.slo, limits)
            for result in load_results(run_dir) if result.index in plan.selected and result.index in by_index]


def estimate_s(search: Search, configurations: int) -> float:
    """Seconds a capacity run may take at most: the ceiling's probes and every configuration's whole budget."""
    return (CEILING_PROBES * (CEILING_RAMP_S + search.window_s + CEILING_DRAIN_S + PROBE_OVERHEAD_S)
            + configurations * search.max_probes * (search.probe_s + PROBE_OVERHEAD_S))
