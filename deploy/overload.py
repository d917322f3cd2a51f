"""Overload: one configuration driven past its capacity, and how the stack sheds what it cannot serve.

An open-model load (``loadtest.rate_steps``: requests start on a schedule
whatever the answers) steps through multiples of the configuration's capacity,
0.5x, 1x, 1.5x, 2x and back to 0.5x, in one Locust run, so the fall from 2x
meets whatever queues the overload left. Every request is logged
(``loadtest.request_log``); each step reports what was offered, the 2xx answered
per second (goodput), the 503 refusals and their latency, any other status or
connection error, the 2xx latency percentiles, and, for the last step, the
seconds until every answer is 2xx again. ``judge`` holds the figures to the
targets the README names (goodput >= 90% of capacity at 2x, ...).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import numpy as np

from deploy.containers import NGINX_SERVICE, OomWatch, keep_logs
from deploy.loadgen import OpenLoad, OpenLoadRun, run_open_load
from deploy.matrix import Configuration
from deploy.pinning import Pinning, generator_on, pin_stack
from deploy.progress import live_figures
from deploy.readiness import wait_ready
from deploy.served_model import ModelChanged, ModelUnreadable, ServedModel, fetch_served_model
from deploy.runner import require_free_port
from deploy.stack import ComposeStack
from loadtest.runner import LiveStats, generator_saturated
from loadtest.slo import Slo
from stack.compose import NGINX_PORT, StackError
from stack.http import answers

MULTIPLIERS = (0.5, 1.0, 1.5, 2.0, 0.5)
PEAK_MULTIPLIER = 2.0
DEFAULT_STEP_S = 30.0
DEFAULT_PEAK_S = 60.0
# Seconds between a user's requests at the peak rate: well above the SLO's p99
# (1 s), so that a user has its answer before its next request is due.
DEFAULT_PACE_S = 2.5
REQUEST_LOG = "requests.csv"
# Seconds Locust takes to start every user; each then waits a random phase of its pace before its first request.
SPAWN_S = 2.0
# Targets of an overload run (README "Overload"): goodput at the peak against
# capacity, the refusals' p99 and the time back to all-2xx after the fall.
MIN_PEAK_GOODPUT_SHARE = 0.9
MAX_REFUSAL_P99_MS = 20.0
MAX_RECOVERY_S = 2.0
OVERLOADED = 503
# Every line of the run's container logs (Nginx's access log has one per request), not the last few.
FULL_LOG_LINES = 10_000_000
NGINX_LOG = Path("logs") / "nginx-1.log"
# Where the load generator sends its requests: Nginx's address on the stack's Docker network, or the port the
# stack publishes on 127.0.0.1 (through Docker's userland proxy, which costs the shared host CPU of its own).
VIA_NETWORK = "network"
VIA_PORT = "port"


@dataclass(frozen=True)
class OverloadPlan:
    """The steps offered: ``multipliers`` of ``capacity_rps``, each ``step_s`` long but the peak's ``peak_s``."""

    capacity_rps: float
    step_s: float = DEFAULT_STEP_S
    peak_s: float = DEFAULT_PEAK_S
    pace_s: float = DEFAULT_PACE_S
    multipliers: tuple[float, ...] = MULTIPLIERS

    def __post_init__(self) -> None:
        for name in ("capacity_rps", "step_s", "peak_s", "pace_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number greater than 0, got {value!r}")

    @property
    def rates_rps(self) -> tuple[float, ...]:
        return tuple(multiplier * self.capacity_rps for multiplier in self.multipliers)

    @property
    def durations_s(self) -> tuple[float, ...]:
        return tuple(self.peak_s if multiplier == PEAK_MULTIPLIER else self.step_s for multiplier in self.multipliers)

    @property
    def warmup_s(self) -> float:
        """Seconds of the first step before its measured part: the users' spawn, then one pace of the first
        step, within which each user sends its first request at a random phase (``loadtest.rate_steps``)."""
        users = OpenLoad(rate_rps=max(self.rates_rps), window_s=1.0, pace_s=self.pace_s).users
        return SPAWN_S + users / self.rates_rps[0]

    @property
    def load(self) -> OpenLoad:
        """Locust's users for the highest rate at ``pace_s``, spawned within SPAWN_S; the run lasts the warm-up
        and every step."""
        return OpenLoad(rate_rps=max(self.rates_rps), window_s=self.warmup_s - SPAWN_S + sum(self.durations_s),
                        ramp_s=SPAWN_S, pace_s=self.pace_s)

    @property
    def step_starts_s(self) -> tuple[float, ...]:
        """Where each step's measured part starts, seconds from Locust's start: the first after the warm-up."""
        starts, moment = [], self.warmup_s
        for duration in self.durations_s:
            starts.append(moment)
            moment += duration
        return tuple(starts)

    def rate_steps_option(self) -> str:
        """``--rate-steps`` for Locust: the warm-up runs at the first step's rate, as part of it."""
        durations = list(self.durations_s)
        durations[0] += self.warmup_s
        return ",".join(f"{rate:.6g}:{duration:.6g}" for rate, duration in zip(self.rates_rps, durations))


@dataclass(frozen=True)
class Request:
    """One row of the request log: start (s from Locust's start), latency (ms), status (0: no answer), error class."""

    start_s: float
    response_time_ms: float
    status: int
    error: str = ""


@dataclass(frozen=True)
class StepReport:
    """What one step offered and got. Rates in requests/s over the step, latencies in ms (None: no such answer)."""

    multiplier: float
    offered_rps: float
    duration_s: float
    sent_rps: float  # requests the generator started per second: below offered_rps, the generator fell behind
    goodput_rps: float  # 2xx answers per second
    ok: int
    refused: int  # 503 answers
    other_statuses: dict[str, int] = field(default_factory=dict)  # any other HTTP status: count
    connection_errors: dict[str, int] = field(default_factory=dict)  # no HTTP answer, by the client's error: count
    ok_p50_ms: float | None = None
    ok_p95_ms: float | None = None
    ok_p99_ms: float | None = None
    refused_p50_ms: float | None = None
    refused_p99_ms: float | None = None
    recovery_s: float | None = None  # the last step only: from its start to the end of its last non-2xx answer

    @property
    def requests(self) -> int:
        return self.ok + self.refused + sum(self.other_statuses.values()) + sum(self.connection_errors.values())

    @property
    def refused_share(self) -> float:
        return self.refused / self.requests if self.requests else 0.0


def read_request_log(path: Path) -> list[Request]:
    """The rows ``--request-log`` wrote; raises OSError or ValueError when the file is missing or damaged."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [Request(float(row["start_s"]), float(row["response_time_ms"]), int(row["status"]), row["error"])
                for row in csv.DictReader(handle)]


def nginx_refusal_times_ms(log: Path) -> list[float]:
    """Nginx's own ``request_time`` (ms) of every 503 in its JSON access log: how long Nginx took to shed a
    request, without the network and the load generator; [] when the log is missing."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    times = []
    for line in lines:
        try:
            entry = json.loads(line)
            if entry["status"] == OVERLOADED:
                times.append(float(entry["request_time_s"]) * 1000)
        except (ValueError, KeyError, TypeError):
            continue  # Nginx's own start-up lines are not JSON
    return times


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def step_report(requests: list[Request], multiplier: float, offered_rps: float, start_s: float, duration_s: float,
                last: bool = False) -> StepReport:
    """The figures of the requests that started within [start_s, start_s + duration_s)."""
    inside = [r for r in requests if start_s <= r.start_s < start_s + duration_s]
    ok = [r.response_time_ms for r in inside if 200 <= r.status < 300]
    refused = [r.response_time_ms for r in inside if r.status == OVERLOADED]
    other = Counter(str(r.status) for r in inside if r.status and not 200 <= r.status < 300 and r.status != OVERLOADED)
    errors = Counter(r.error or "no answer" for r in inside if r.status == 0)
    recovery_s = None
    if last:
        failed_ends = [r.start_s + r.response_time_ms / 1000 for r in inside if not 200 <= r.status < 300]
        recovery_s = max(0.0, max(failed_ends) - start_s) if failed_ends else 0.0
    return StepReport(
        multiplier=multiplier, offered_rps=offered_rps, duration_s=duration_s,
        sent_rps=len(inside) / duration_s, goodput_rps=len(ok) / duration_s, ok=len(ok), refused=len(refused),
        other_statuses=dict(sorted(other.items())), connection_errors=dict(sorted(errors.items())),
        ok_p50_ms=_percentile(ok, 50), ok_p95_ms=_percentile(ok, 95), ok_p99_ms=_percentile(ok, 99),
        refused_p50_ms=_percentile(refused, 50), refused_p99_ms=_percentile(refused, 99), recovery_s=recovery_s,
    )


def analyse(requests: list[Request], plan: OverloadPlan) -> list[StepReport]:
    """One report per step of ``plan``, from the request log."""
    steps = list(zip(plan.multipliers, plan.rates_rps, plan.step_starts_s, plan.durations_s))
    return [step_report(requests, multiplier, rate, start, duration, last=index == len(steps) - 1)
            for index, (multiplier, rate, start, duration) in enumerate(steps)]


@dataclass(frozen=True)
class Check:
    """One target of an overload run: what it asks, the figure measured, whether it holds."""

    target: str
    measured: str
    passed: bool


def judge(steps: list[StepReport], capacity_rps: float, slo: Slo) -> list[Check]:
    """The README's targets: at the peak (2x) goodput >= 90% of capacity, 2xx p99 within the SLO, refusals
    under 20 ms at p99, no connection error and no status but 2xx and 503 anywhere; back to all-2xx within
    2 s of the fall; at 1x, refusals within the SLO's failure share."""
    peak = next(step for step in steps if step.multiplier == PEAK_MULTIPLIER)
    at_capacity = next(step for step in steps if step.multiplier == 1.0)
    refused_p99 = max((s.refused_p99_ms for s in steps if s.refused_p99_ms is not None), default=None)
    errors = sum(sum(s.connection_errors.values()) for s in steps)
    others = Counter()
    for step in steps:
        others.update(step.other_statuses)
    recovery_s = steps[-1].recovery_s or 0.0
    return [
        Check(f"goodput at 2x >= {MIN_PEAK_GOODPUT_SHARE:.0%} of capacity ({capacity_rps:.0f} req/s)",
              f"{peak.goodput_rps:.0f} req/s ({peak.goodput_rps / capacity_rps:.0%})",
              peak.goodput_rps >= MIN_PEAK_GOODPUT_SHARE * capacity_rps),
        Check(f"2xx p99 at 2x <= {slo.p99_ms:g} ms", _ms(peak.ok_p99_ms),
              peak.ok_p99_ms is not None and peak.ok_p99_ms <= slo.p99_ms),
        Check(f"503 p99 < {MAX_REFUSAL_P99_MS:g} ms (every step)", _ms(refused_p99),
              refused_p99 is None or refused_p99 < MAX_REFUSAL_P99_MS),
        Check("connection errors: 0", str(errors), errors == 0),
        Check("statuses other than 2xx and 503: none",
              ", ".join(f"{count} x {status}" for status, count in sorted(others.items())) or "none", not others),
        Check(f"all 2xx again within {MAX_RECOVERY_S:g} s of the fall to 0.5x", f"{recovery_s:.1f} s",
              recovery_s <= MAX_RECOVERY_S),
        Check(f"refusals at 1x <= {slo.max_failure_ratio:.0%}", f"{at_capacity.refused_share:.2%}",
              at_capacity.refused_share <= slo.max_failure_ratio),
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def table(steps: list[StepReport]) -> str:
    """The steps as a Markdown table."""
    lines = ["| step | offered | sent | goodput (2xx/s) | 503 | 503 p50 / p99 | other statuses | connection errors "
             "| 2xx p50 / p95 / p99 | back to all-2xx |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for step in steps:
        other = ", ".join(f"{n} x {status}" for status, n in step.other_statuses.items()) or "0"
        errors = ", ".join(f"{n} x {error}" for error, n in step.connection_errors.items()) or "0"
        recovery = "-" if step.recovery_s is None else f"{step.recovery_s:.1f} s"
        lines.append(
            f"| {step.multiplier:g}x | {step.offered_rps:.0f} req/s | {step.sent_rps:.0f} req/s | {step.goodput_rps:.0f} "
            f"| {step.refused} ({step.refused_share:.1%}) | {_ms(step.refused_p50_ms)} / {_ms(step.refused_p99_ms)} "
            f"| {other} | {errors} | {_ms(step.ok_p50_ms)} / {_ms(step.ok_p95_ms)} / {_ms(step.ok_p99_ms)} | {recovery} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class MeasuredCapacity:
    """A configuration's capacity read from a capacity run: ``rps`` (requests/s), the results.json it came from
    (``source``) and the model its row recorded (None: the row predates the record of the model)."""

    rps: float
    source: Path
    model: ServedModel | None = None

    def check_served(self, served: ServedModel) -> None:
        """Raise ModelChanged, naming both, when the row recorded a model and ``served`` is another by name or
        version: multiples of one model's capacity say nothing of another's overload. A row without a record passes."""
        if self.model is not None and (self.model.name, self.model.version) != (served.name, served.version):
            raise ModelChanged(f"the capacity in {self.source} was measured on {self.model.describe()}; this stack "
                               f"serves {served.describe()}: pass --model-dir or another --capacity-from")

    def describe(self) -> str:
        """Where the capacity came from and on which model, for the report."""
        measured_on = f"measured on {self.model.describe()}" if self.model else "its model not recorded"
        return f"from `{self.source}`, {measured_on}"


@dataclass(frozen=True)
class OverloadResult:
    """A finished overload run: the configuration's label, the plan, each step, the checks, the generator's state."""

    configuration: str
    plan: OverloadPlan
    steps: list[StepReport]
    checks: list[Check]
    generator_saturated: bool
    nginx_refusal_p99_ms: float | None = None  # Nginx's own time for its 503s (access log), the whole run
    target: str = ""  # the URL the load went to, and how it got there
    placement: str = ""  # the host CPUs the generator and the stack ran on ("": wherever the scheduler put them)
    model: ServedModel | None = None  # what GET /model answered through Nginx once the stack was ready
    model_dir: str | None = None  # --model-dir, absolute (None: the image's built-in model)
    capacity: MeasuredCapacity | None = None  # where --capacity-from took the capacity (None: --capacity-rps)

    def markdown(self, command: str) -> str:
        source = f"the artifact mounted from `{self.model_dir}`" if self.model_dir else "the image's built-in model"
        lines = [f"# Overload: {self.configuration}", "",
                 f"Model: {self.model.describe() + ', ' if self.model else ''}{source}.", "",
                 f"Capacity {self.plan.capacity_rps:g} req/s{', ' + self.capacity.describe() if self.capacity else ''}; steps {', '.join(f'{m:g}x' for m in self.plan.multipliers)} "
                 f"of {self.plan.step_s:g} s each (2x: {self.plan.peak_s:g} s), open model, {self.plan.load.users} users "
                 f"at a {self.plan.pace_s:g} s pace at the peak{'; load sent to ' + self.target if self.target else ''}"
                 f"{'; ' + self.placement if self.placement else ''}.",
                 "", f"    {command}", "", table(self.steps), ""]
        lines += [f"- {'PASS' if check.passed else 'MISS'}: {check.target}: {check.measured}" for check in self.checks]
        if self.nginx_refusal_p99_ms is not None:
            lines.append(f"- Nginx's own time for its 503s (access log, whole run): p99 {_ms(self.nginx_refusal_p99_ms)}; "
                         "the rest of a 503's latency above is the network and the load generator")
        if self.generator_saturated:
            lines.append("- the load generator ran out of CPU: the figures describe the bench, not the configuration")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"configuration": self.configuration, "plan": asdict(self.plan),
                "steps": [{**asdict(step), "requests": step.requests} for step in self.steps],
                "checks": [asdict(check) for check in self.checks], "generator_saturated": self.generator_saturated,
                "nginx_refusal_p99_ms": self.nginx_refusal_p99_ms, "target": self.target,
                "placement": self.placement, "model": asdict(self.model) if self.model else None,
                "model_dir": self.model_dir,
                "capacity_from": str(self.capacity.source) if self.capacity else None,
                "capacity_model": asdict(self.capacity.model) if self.capacity and self.capacity.model else None}


def drive(plan: OverloadPlan, slo: Slo, url: str, directory: Path, cwd: Path,
          on_tick: Callable[[float, LiveStats | None], None] = lambda elapsed_s, live: None) -> OpenLoadRun:
    """Offer ``plan``'s steps to ``url`` with Locust (valid requests only: a deliberately invalid one's 4xx would
    count as a status other than 2xx and 503); every request goes into ``directory``/requests.csv."""
    extra = ("--rate-steps", plan.rate_steps_option(), "--request-log", str(directory / REQUEST_LOG),
             "--invalid-share", "0")
    return run_open_load(plan.load, slo, url, directory, cwd, on_tick, extra_args=extra)


def report(configuration: str, plan: OverloadPlan, slo: Slo, directory: Path, target: str = "",
           placement: str = "", model: ServedModel | None = None, model_dir: str | None = None,
           capacity: MeasuredCapacity | None = None) -> OverloadResult:
    """Read a finished run's request log in ``directory`` and judge it; raises OSError/ValueError on a bad log.
    ``target`` says where the load went, ``placement`` on which CPUs, ``model`` and ``model_dir`` which model
    served it, ``capacity`` where the capacity came from, for the report."""
    steps = analyse(read_request_log(directory / REQUEST_LOG), plan)
    return OverloadResult(configuration, plan, steps, judge(steps, plan.capacity_rps, slo),
                          generator_saturated(directory), _percentile(nginx_refusal_times_ms(directory / NGINX_LOG), 99),
                          target, placement, model, model_dir, capacity)


def write_reports(result: OverloadResult, directory: Path, command: str) -> list[Path]:
    """overload.md, overload.json and overload.png in ``directory``; the paths written."""
    from deploy.plots import plot_overload

    written = [directory / "overload.md", directory / "overload.json", directory / "overload.png"]
    written[0].write_text(result.markdown(command), encoding="utf-8")
    written[1].write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    plot_overload(read_request_log(directory / REQUEST_LOG), result.plan, result.configuration, written[2])
    return written


class CapacityNotFound(ValueError):
    """A capacity results.json holds no measured capacity for the configuration asked."""


def capacity_from(results_json: Path, replicas: int, cpus: float, memory: str) -> MeasuredCapacity:
    """The ``capacity_rps`` and ``model`` of the row of a capacity run's results.json with these limits (memory as
    written there; a row without ``model`` was measured before runs recorded it).

    Raises CapacityNotFound naming what is missing, OSError or ValueError for an unreadable file or model record.
    """
    document = json.loads(results_json.read_text(encoding="utf-8"))
    for row in document.get("configurations", []):
        if (row.get("replicas"), row.get("cpus"), str(row.get("memory")).upper()) == (replicas, cpus, memory.upper()):
            capacity = row.get("capacity_rps")
            if not isinstance(capacity, (int, float)) or not capacity > 0:
                raise CapacityNotFound(f"{results_json}: {row.get('name')} has no measured capacity_rps")
            recorded = row.get("model")
            try:
                model = None if recorded is None else ServedModel.from_metadata(recorded)
            except (KeyError, TypeError, AttributeError) as error:
                raise ValueError(f"{row.get('name')} records no model's name and version ({error!r})") from error
            return MeasuredCapacity(float(capacity), results_json, model)
    raise CapacityNotFound(f"{results_json} has no configuration of {replicas} x {cpus:g} CPU / {memory}")


def run_overload(configuration: Configuration, plan: OverloadPlan, slo: Slo, stack: ComposeStack,
                 client: docker.DockerClient, directory: Path, *, build: bool = True, ready_timeout_s: float = 120.0,
                 via: str = VIA_NETWORK, pinning: Pinning | None = None, capacity: MeasuredCapacity | None = None,
                 say: Callable[[str], None] = print) -> OverloadResult:
    """Bring ``configuration`` up as ``stack``, drive ``plan`` through Nginx, tear the stack down; the result.

    ``via`` VIA_NETWORK sends the load to Nginx's address on the stack's network when it answers from here
    (else, saying so, to the published port), VIA_PORT to the published port on 127.0.0.1. With ``pinning``,
    Nginx and the replicas run on its stack CPUs once ready, and Locust on its generator CPUs. ``capacity``, where
    the plan's capacity was read, must have been measured on the model the stack serves.

    Raises StackError when the image cannot be built, the stack does not get ready or does not say which model
    it serves (``GET /model``), ModelChanged when it serves another model than ``capacity`` recorded (before any
    load, after teardown), PinningFailed when the
    engine does not move its containers, OSError/ValueError when
    Locust left no usable request log. The containers' last log lines are kept in ``directory``/logs.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stack.down()  # one a killed run left behind
    require_free_port(stack.port)
    if build:
        say(f"building the image ({' '.join(stack.command('build', 'api'))})")
        stack.build(configuration)
    oom_watch = OomWatch(client, stack.project)
    try:
        up = stack.start(configuration, directory / "compose.log")
        readiness = wait_ready(client, stack.project, configuration, up, directory / "compose.log",
                               f"{stack.url}/ready", oom_watch, ready_timeout_s)
        if not readiness.ready:
            raise StackError(f"{configuration.label} did not get ready: {readiness.reason}")
        try:
            model = fetch_served_model(stack.url)
        except ModelUnreadable as error:
            raise StackError(str(error)) from error
        if capacity is not None:
            capacity.check_served(model)
        url, target = load_target(stack, via, say)
        placement = ""
        if pinning is not None:
            pin_stack(client, stack.project, pinning)
            placement = pinning.describe()
            say(placement)
        total_s = plan.load.run_time_s
        say(f"{configuration.label} ready; offering {plan.rate_steps_option()} (rate:seconds) to {url} for {total_s} s")

        def on_tick(elapsed_s: float, live: LiveStats | None) -> None:
            if live and int(elapsed_s) % 10 == 0:
                say(f"  {elapsed_s:4.0f}/{total_s} s: {live_figures(live, users=False)}")

        with generator_on(pinning):
            drive(plan, slo, url, directory, stack.root, on_tick)
        keep_logs(client, stack.project, directory / "logs", tail=FULL_LOG_LINES)
        return report(configuration.label, plan, slo, directory, target, placement, model,
                      None if stack.model_dir is None else str(stack.model_dir), capacity)
    finally:
        if not (directory / NGINX_LOG).exists():
            keep_logs(client, stack.project, directory / "logs", tail=FULL_LOG_LINES)
        stack.down()
        oom_watch.stop()


def load_target(stack: ComposeStack, via: str, say: Callable[[str], None] = print) -> tuple[str, str]:
    """Where the load goes for ``via`` (VIA_NETWORK or VIA_PORT): the URL, and the same in words for the report."""
    if via == VIA_NETWORK:
        url = stack.compose().container_url(NGINX_SERVICE, NGINX_PORT)
        if url and answers(f"{url}/nginx-health"):
            return url, f"{url}, Nginx's address on the stack's network"
        say(f"Nginx's address on the stack's network ({url or 'none'}) does not answer from here; "
            f"sending the load to the published port, {stack.url}")
    return stack.url, f"{stack.url}, the published port (through Docker's port proxy)"
