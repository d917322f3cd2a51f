"""Run a matrix: for each configuration, stack up, wait for readiness, Locust plus sampling, stack down.

The stack is always torn down — between configurations, at the end, on an
error and on Ctrl-C or SIGTERM (raised as KeyboardInterrupt by ``__main__``).
A finished configuration leaves its result.json at once, so an interrupted run
resumes where it stopped; the reports are written when every selected
configuration has its result.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import docker
from docker.errors import DockerException

from deploy.containers import OomWatch, gunicorn_workers, keep_logs, restart_count, service_containers
from deploy.loadgen import locust_command
from deploy.matrix import Configuration, Matrix
from deploy.outcome import LoadMeasurements, measured_result, unmeasured_result
from deploy.pinning import Pinning, PinningFailed, pin_stack
from deploy.progress import Progress, live_figures
from deploy.readiness import wait_ready
from deploy.results import ERROR, NOT_READY, ConfigurationResult, load_results, save_result
from deploy.rundir import Host, Plan, configuration_dir, is_finished, write_plan
from deploy.sampling import SAMPLES_FILE, StatsSampler, write_samples
from deploy.served_model import ModelChanged, ServedModel, fetch_served_model
from deploy.stack import ComposeStack
from loadtest.runner import CSV_PREFIX, LiveStats, main_failure, run_locust
from loadtest.slo import read_stats_csv
from stack.compose import StackError

DEFAULT_READY_TIMEOUT_S = 120.0
# A line Locust's logging writes for an error: "[time] host/ERROR/logger: message".
LOCUST_ERROR_LINE = re.compile(r"/(?:ERROR|CRITICAL)/[^:]*: (.+)$")
# The last line of a Python traceback: "ValueError: message".
EXCEPTION_LINE = re.compile(r"^\w*(?:Error|Exception): .+$")


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run: the repository root, Compose project, host port, image, the artifact mounted
    into it (None: the image's own), readiness timeout, Locust's target."""

    root: Path
    project: str
    port: int
    image: str | None = None
    model_dir: Path | None = None
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    build: bool = True
    target_url: str | None = None  # where Locust's users send requests; None: Nginx on 127.0.0.1:port
    locust_args: tuple[str, ...] = ()  # appended to the Locust command line
    pinning: Pinning | None = None  # the host CPUs of Nginx and the replicas (the generator's: the caller's)


def describe_host(client: docker.DockerClient) -> Host:
    """The Docker host's CPUs, memory, engine version, cgroup version and OS (``docker info``)."""
    info = client.info()
    return Host(cpus=int(info.get("NCPU", 0)), memory_bytes=int(info.get("MemTotal", 0)),
                docker_version=str(info.get("ServerVersion", "?")), cgroup_version=str(info.get("CgroupVersion", "1")),
                os=str(info.get("OperatingSystem", "?")))


@dataclass(frozen=True)
class ReadyStack:
    """A configuration whose stack is up and ready, with everything measuring it needs."""

    configuration: Configuration
    matrix: Matrix
    directory: Path  # the configuration's directory in the run directory
    stack: ComposeStack
    options: RunOptions
    client: docker.DockerClient
    progress: Progress
    position: int  # k of "configuration k of n" on the terminal
    started_at: str  # UTC, ISO 8601, when the stack was started
    oom_watch: OomWatch
    ready_s: float  # seconds the stack took to become ready
    host_cpus: int  # the Docker engine's CPUs

    def status(self, text: str) -> None:
        """Show ``text`` as this configuration's live status line."""
        self.progress.status(self.position, text)


# What measures a configuration once its stack is ready: its result.
Measure = Callable[[ReadyStack], ConfigurationResult]
# What hears of the model a configuration serves once it is ready, before it is measured; raises ModelChanged
# to stop the run.
ModelCheck = Callable[[Configuration, ServedModel], None]


def run_matrix(matrix: Matrix, plan: Plan, run_dir: Path, options: RunOptions, client: docker.DockerClient,
               progress: Progress, measure: Measure | None = None) -> list[ConfigurationResult]:
    """Run every selected configuration of ``plan`` that has no result yet; return all results of the plan.

    ``measure`` measures a configuration whose stack is ready (default: the matrix's fixed load,
    ``deploy.capacity_run.measure_capacity`` for a capacity search). The model the first ready configuration
    serves is recorded in ``run_dir``'s plan.json when the plan has none yet; every configuration must serve it.
    Raises StackError when the image cannot be built, ModelChanged when a configuration serves another model
    than the plan's (unmeasured, after teardown), KeyboardInterrupt when interrupted (after teardown).
    """
    recorded = plan.model

    def check_model(configuration: Configuration, served: ServedModel) -> None:
        nonlocal recorded
        if recorded is None:
            recorded = served
            write_plan(run_dir, replace(plan, model=served))
        elif served != recorded:
            raise ModelChanged(f"{run_dir} measured {recorded.describe()}, but {configuration.name} serves "
                               f"{served.describe()}: resume it with the model it measured, or start a new run")

    selected = [c for c in matrix.configurations if c.index in plan.selected]
    todo = [c for c in selected if not is_finished(run_dir, c.index, c.name)]
    stack = ComposeStack(options.project, options.port, options.root, options.image, options.model_dir)
    engine_cpus = int(client.info().get("NCPU", 0))
    for configuration in selected:
        if configuration not in todo:
            progress.line(f"{progress.prefix(selected.index(configuration) + 1)} {configuration.name}: done earlier, kept")
    if todo:
        try:
            if options.build:
                progress.line(f"building the image once ({' '.join(stack.command('build', 'api'))})")
                stack.build(todo[0])
            for configuration in todo:
                position = selected.index(configuration) + 1
                progress.line(f"{progress.prefix(position)} {configuration.name}: {configuration.label}")
                unfit = unfit_reason(configuration, engine_cpus)
                if unfit:
                    result = unmeasured_result(configuration, NOT_READY, unfit,
                                               datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                               configuration_dir(run_dir, configuration.index, configuration.name).name)
                else:
                    result = run_configuration(configuration, matrix, run_dir, stack, options, client, progress,
                                               position, plan.host.cpus, measure or measure_load, check_model)
                save_result(result, configuration_dir(run_dir, configuration.index, configuration.name))
                progress.line(f"{progress.prefix(position)} {result.mark} {configuration.name}: {result.reason}")
        finally:
            with _shielded():
                stack.down()
    return [result for result in load_results(run_dir) if result.index in plan.selected]


def unfit_reason(configuration: Configuration, engine_cpus: int) -> str | None:
    """Why the Docker engine would refuse ``configuration``'s limits, or None: Docker takes --cpus only up to
    the CPUs it has (``docker info`` NCPU; 0 when unknown skips the check)."""
    if engine_cpus and configuration.cpus > engine_cpus:
        return (f"asks for {configuration.cpus:g} CPUs per replica, but the Docker engine has {engine_cpus}; "
                f"Docker refuses a limit above that")
    return None


def run_configuration(configuration: Configuration, matrix: Matrix, run_dir: Path, stack: ComposeStack,
                      options: RunOptions, client: docker.DockerClient, progress: Progress,
                      position: int, host_cpus: int, measure: Measure | None = None,
                      check_model: ModelCheck | None = None) -> ConfigurationResult:
    """Bring one configuration's stack up, ask it which model it serves (``GET /model`` through Nginx; told to
    ``check_model``), ``measure`` it (default: the matrix's fixed load) and tear the stack down; failures to
    start or to measure become results. Raises what ``check_model`` raises (ModelChanged), after teardown."""
    directory = configuration_dir(run_dir, configuration.index, configuration.name)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    oom_watch = None
    try:
        oom_watch = OomWatch(client, stack.project)
        up = stack.start(configuration, directory / "compose.log")
        readiness = wait_ready(
            client, stack.project, configuration, up, directory / "compose.log", f"{stack.url}/ready", oom_watch,
            options.ready_timeout_s,
            on_wait=lambda elapsed_s, state: progress.status(position, f"starting {elapsed_s:.0f}s: {state}"),
        )
        if not readiness.ready:
            return unmeasured_result(configuration, ERROR if readiness.compose_failed else NOT_READY, readiness.reason,
                                     started_at, directory.name, readiness.elapsed_s)
        served = fetch_served_model(stack.url)
        if check_model is not None:
            check_model(configuration, served)
        if options.pinning is not None:
            pin_stack(client, stack.project, options.pinning)
        ready = ReadyStack(configuration, matrix, directory, stack, options, client, progress, position, started_at,
                           oom_watch, readiness.elapsed_s, host_cpus)
        return replace((measure or measure_load)(ready), model=served)
    except (DockerException, StackError, PinningFailed, OSError, ValueError) as error:
        return unmeasured_result(configuration, ERROR, f"the run failed: {error}", started_at, directory.name)
    finally:
        with _shielded():
            keep_logs(client, stack.project, directory / "logs")
            stack.down()
        if oom_watch is not None:
            oom_watch.stop()


def measure_load(ready: ReadyStack) -> ConfigurationResult:
    """Run the matrix's fixed ``[load]`` against a ready stack while sampling the replicas; its judged result."""
    configuration, directory = ready.configuration, ready.directory
    containers = service_containers(ready.client, ready.stack.project)
    restarts_before = sum(restart_count(container) for container in containers)
    duration_s = ready.matrix.load.duration_s

    def on_tick(elapsed_s: float, live: LiveStats | None) -> None:
        ready.status(f"load {min(elapsed_s, duration_s):.0f}/{duration_s}s: {live_figures(live)}")

    sampler = StatsSampler(containers).start()
    try:
        command = locust_command(ready.matrix.load, ready.matrix.slo, ready.options.target_url or ready.stack.url,
                                 directory, ready.options.locust_args)
        locust = run_locust(command, directory, duration_s, ready.stack.root, on_tick)
    finally:
        samples = sampler.stop()
    # Other work on the host skews every figure; the load average says how busy it was.
    load_1m = os.getloadavg()[0]
    write_samples(samples, directory / SAMPLES_FILE)
    try:
        stats = read_stats_csv(locust.stats_csv)
    except (OSError, ValueError):  # Locust stopped before any statistics: its log says why
        why = locust_error(locust.log) or f"see {locust.log.name}"
        return unmeasured_result(configuration, ERROR, f"Locust wrote no statistics (exit {locust.exit_code}): {why}",
                                 ready.started_at, directory.name, ready.ready_s)
    measured = LoadMeasurements(
        stats=stats, samples=samples,
        workers_per_replica=tuple(gunicorn_workers(container) for container in containers),
        oom_kills=_oom_kills_after_load(ready.oom_watch, containers),
        restarts=sum(restart_count(container) for container in containers) - restarts_before,
        generator_saturated=locust.generator_saturated, host_load_1m=load_1m,
        main_failure=main_failure(directory / f"{CSV_PREFIX}_failures.csv"),
    )
    return measured_result(configuration, ready.matrix.slo, measured, started_at=ready.started_at,
                           artifacts=directory.name, ready_s=ready.ready_s, host_cpus=ready.host_cpus)


def _oom_kills_after_load(oom_watch: OomWatch, containers: list) -> int:
    """The OOM kills in ``containers`` so far; a second's wait lets an event of the load's last moment arrive."""
    time.sleep(1)
    for container in containers:
        container.reload()
    return oom_watch.kills(containers)


def locust_error(log: Path) -> str | None:
    """The last error Locust logged in ``log`` (its logging's ERROR line, else a traceback's last line), or None."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        match = LOCUST_ERROR_LINE.search(line)
        if match:
            return match.group(1).strip()
    return next((line.strip() for line in reversed(lines) if EXCEPTION_LINE.match(line.strip())), None)


def clear_the_port(options: RunOptions) -> None:
    """Take down the project's stack a run killed outright left behind, then check that ``options.port`` is free.

    Raises StackError when Compose fails or something else listens on the port (``require_free_port``).
    """
    with _shielded():
        ComposeStack(options.project, options.port, options.root, options.image, options.model_dir).down()
    require_free_port(options.port)


def require_free_port(port: int) -> None:
    """Raise StackError when something already listens on ``port``: every configuration would fail to start.

    SO_REUSEADDR, as Docker's own listener uses: the TIME-WAIT connections an
    earlier run leaves for a minute do not keep Docker from publishing the port,
    so they must not make this check fail either; a listener still does.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            raise StackError(f"port {port} is in use ({error.strerror}); choose another with --port") from None


@contextmanager
def _shielded() -> Iterator[None]:
    """Let a teardown finish: a second Ctrl-C or a SIGTERM must not leave containers behind (main thread only).

    Children started inside inherit the ignored signals, so ``docker compose down`` is not cut short either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
