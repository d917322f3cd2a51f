"""Command line: ``python -m deploy COMMAND``.

- ``run [MATRIX]``: run a matrix of configurations under Locust load and write
  the reports (``--dry-run`` prints the plan, ``--only`` picks rows,
  ``--resume [DIR]`` finishes an interrupted run).
- ``capacity [MATRIX]``: search each configuration's capacity under open-model
  load (``deploy.capacity_run``), with ``run``'s options and ``--target-rps``.
- ``report DIR``: judge a run directory's configurations again from the files
  they kept (after a change of the rules or the matrix's SLO) and rewrite its reports.
- ``recommend [RESULTS] [--k8s DIR]``: a run's cheapest passing configuration, or for a
  capacity run the sizing for ``--target-rps`` (or the matrix's goal);
  ``--k8s`` writes it as a kustomize overlay of deploy/k8s/base.
- ``overload``: one configuration at 0.5x, 1x, 1.5x, 2x and again 0.5x its capacity
  (open model): how the stack sheds what it cannot serve (``deploy.overload``).

Each command is one ``add_*_command`` function registering a subparser and its handler.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deploy.k8s_overlay import (
    NoRecommendation,
    NotResults,
    OverlayRefused,
    capacity_sizing,
    find_results,
    is_capacity_run,
    recommended_configuration,
    write_overlay,
)
from deploy.matrix import Configuration, Matrix, MatrixError, load_matrix
from deploy.progress import Progress
from deploy.recommend import describe, format_bytes
from deploy.report import RESULTS_MD, UnusableRun, judge_again, model_lines, table, write_reports
from deploy.results import ERROR, ConfigurationResult, UnreadableResult, save_result
from deploy.rundir import (
    CAPACITY_MODE,
    DEFAULT_ROOT,
    MATRIX_COPY,
    PLAN_FILE,
    RUN_MODE,
    Plan,
    create_run_dir,
    discard_unstarted,
    is_finished,
    latest_unfinished,
    read_plan,
    set_aside,
)
from deploy.served_model import ModelChanged, model_words
from deploy.sizing import Sizing, describe_sizing
from deploy.stack import DEFAULT_PORT, DEFAULT_PROJECT
from loadtest.slo import Slo
from stack.compose import StackError, check_project

if TYPE_CHECKING:
    from deploy.pinning import Pinning

DEFAULT_MATRIX = Path("deploy/matrices/reference.toml")
# Stack start and teardown around each run of the load, seconds: for the time estimate only.
OVERHEAD_PER_CONFIGURATION_S = 30
# Capacity per CPU of the limit for the dry run's typical estimate: about what one replica of the Iris
# service held through Nginx on a 2-CPU host (1 × 0.25 CPU: about 280 req/s).
TYPICAL_RPS_PER_CPU = 1100
EXIT_INTERRUPTED = 130
# A configuration ended with status "error": the tooling failed around it (see its reason); --resume tries it again.
EXIT_CONFIGURATION_ERROR = 1
MAX_PORT = 65535


def artifact_dir(text: str) -> Path:
    """argparse type: a directory holding an artifact (``model.joblib`` and ``metadata.json``), made absolute
    for the bind mount."""
    path = Path(text).resolve()
    missing = [name for name in ("model.joblib", "metadata.json") if not (path / name).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(f"{text} has no {' or '.join(missing)}: not a model artifact")
    return path


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port must be 1-{MAX_PORT}, got {port}")
    return port


def positive(unit: str = "") -> Callable[[str], float]:
    """argparse type: a finite number greater than 0, of ``unit`` (e.g. "seconds"), which its errors name."""
    what = f"number of {unit}" if unit else "number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what}: {text!r}") from None
        if not value > 0 or value == float("inf"):  # `not >` rejects NaN too
            raise argparse.ArgumentTypeError(f"must be a finite {what} greater than 0, got {text}")
        return value

    return parse


positive_rate = positive("requests/s")
positive_seconds = positive("seconds")
positive_number = positive()


def compose_project(text: str) -> str:
    """argparse type: a Compose project name that is not the project's own stack (see ``check_project``)."""
    try:
        return check_project(text, Path.cwd())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def directory_path(text: str) -> Path:
    """argparse type: a directory path, not empty (Path("") would be the current directory)."""
    if not text:
        raise argparse.ArgumentTypeError("must name a directory, got an empty string")
    return Path(text)


def http_url(text: str) -> str:
    """argparse type: an http:// or https:// URL with a host."""
    try:
        parts = urlsplit(text)
        parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a valid URL: {text!r} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL with a host, got {text!r}")
    return text


def cpu_pinning(text: str) -> Pinning:
    """``--pin GEN:STACK`` as a ``deploy.pinning.Pinning``."""
    from deploy.pinning import parse_pinning

    try:
        return parse_pinning(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


PIN_HELP = ("run the load generator on host CPUs GEN and Nginx and the replicas on CPUs STACK, taskset -c lists "
            "(e.g. 0:1); the replicas keep their CPU limit. Default: wherever the host's scheduler puts them")


def add_run_command(commands: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    parser = commands.add_parser("run", help="run a matrix of configurations under load and write the reports")
    add_matrix_run_arguments(parser)
    parser.set_defaults(handler=run_command, mode=RUN_MODE, target_rps=None)


def add_capacity_command(commands: argparse._SubParsersAction) -> None:
    """Register ``capacity``."""
    parser = commands.add_parser("capacity", help="search each configuration's capacity under open-model load "
                                                  "and write the reports")
    add_matrix_run_arguments(parser)
    parser.add_argument("--target-rps", type=positive_rate, metavar="R",
                        help="size the recommendation for R requests/s (with the matrix's [goal] headroom, default "
                             "20%%); replaces the matrix's [goal] rps")
    parser.set_defaults(handler=run_command, mode=CAPACITY_MODE)


def add_matrix_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``capacity`` share: the matrix, which rows, resume, where, and the stack's names."""
    parser.add_argument("matrix", nargs="?", type=Path, default=DEFAULT_MATRIX,
                        help=f"matrix file (TOML; default {DEFAULT_MATRIX})")
    parser.add_argument("--only", action="append", default=[], metavar="ROW",
                        help="run only this configuration, by 1-based index or name (repeat or comma-separate)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop; needs no Docker")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="DIR",
                        help="finish an interrupted run: DIR, or the newest unfinished run of MATRIX")
    parser.add_argument("--redo", action="append", default=[], metavar="ROW",
                        help="with --resume DIR: measure this finished configuration again (index or name; "
                             "repeat or comma-separate); its earlier files are kept as NN-name.superseded-<time>")
    parser.add_argument("--out", type=Path, default=DEFAULT_ROOT, help=f"where run directories go (default {DEFAULT_ROOT})")
    parser.add_argument("--project", type=compose_project, default=DEFAULT_PROJECT, help=f"Compose project name (default {DEFAULT_PROJECT})")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"Nginx's port on this host (default {DEFAULT_PORT})")
    parser.add_argument("--image", help="API image to build and run (default: compose.yaml's, api-inference:latest)")
    parser.add_argument("--model-dir", type=artifact_dir, metavar="DIR",
                        help="artifact the replicas serve instead of the image's own, mounted (compose.yaml's API_MODEL_DIR; "
                             "default: the image's)")
    parser.add_argument("--ready-timeout", type=positive_seconds, default=120.0, metavar="SECONDS",
                        help="how long every replica gets to become healthy (default 120)")
    parser.add_argument("--no-build", action="store_true", help="use the image as it is instead of building it first")
    parser.add_argument("--target", type=http_url, metavar="URL",
                        help="where Locust's users send requests (default http://127.0.0.1:PORT); this host's address "
                             "when Locust workers on other machines make the load")
    parser.add_argument("--locust-arg", action="append", default=[], metavar="ARG",
                        help="one more Locust argument, repeatable: --locust-arg=--master "
                             "--locust-arg=--expect-workers=4")
    parser.add_argument("--pin", type=cpu_pinning, metavar="GEN:STACK", help=PIN_HELP)


def add_report_command(commands: argparse._SubParsersAction) -> None:
    """Register ``report``."""
    parser = commands.add_parser("report", help="judge a run directory's results again and rewrite its reports")
    parser.add_argument("run_dir", type=Path, metavar="DIR", help="a run directory, e.g. reports/experiments/<timestamp>")
    parser.set_defaults(handler=report_command)


def add_recommend_command(commands: argparse._SubParsersAction) -> None:
    """Register ``recommend``."""
    parser = commands.add_parser("recommend", help="print a run's recommendation; --k8s writes it as a Kubernetes overlay")
    parser.add_argument("results", nargs="?", type=Path, metavar="RESULTS",
                        help=f"a results.json or its run directory (default: the newest under {DEFAULT_ROOT})")
    parser.add_argument("--target-rps", type=positive_rate, metavar="R",
                        help="a capacity run: size for R requests/s instead of the run's goal")
    parser.add_argument("--k8s", type=directory_path, metavar="DIR",
                        help="write the recommended configuration into DIR as a kustomize overlay of deploy/k8s/base; "
                             "an existing kustomization.yaml or size.yaml is replaced only if this command wrote it")
    parser.set_defaults(handler=recommend_command)


def add_overload_command(commands: argparse._SubParsersAction) -> None:
    """Register ``overload``."""
    from deploy.overload import DEFAULT_PACE_S, DEFAULT_PEAK_S, DEFAULT_STEP_S, VIA_NETWORK, VIA_PORT

    parser = commands.add_parser("overload", help="drive one configuration at 0.5x, 1x, 1.5x, 2x and 0.5x its capacity "
                                                  "and report how the stack sheds what it cannot serve")
    parser.add_argument("--replicas", type=int, default=1, help="api replicas (default 1)")
    parser.add_argument("--cpus", type=positive_number, default=0.5, help="CPU limit per replica (default 0.5)")
    parser.add_argument("--memory", default="256M", help="memory limit per replica, Docker units (default 256M)")
    capacity = parser.add_mutually_exclusive_group(required=True)
    capacity.add_argument("--capacity-rps", type=positive_number, metavar="RPS",
                          help="the configuration's capacity, requests/s")
    capacity.add_argument("--capacity-from", type=Path, metavar="RESULTS",
                          help="a capacity run's results.json (or its directory): its capacity_rps for this configuration")
    parser.add_argument("--step-s", type=positive_seconds, default=DEFAULT_STEP_S,
                        help=f"seconds of each step but the 2x one (default {DEFAULT_STEP_S:g})")
    parser.add_argument("--peak-s", type=positive_seconds, default=DEFAULT_PEAK_S,
                        help=f"seconds of the 2x step (default {DEFAULT_PEAK_S:g})")
    parser.add_argument("--pace-s", type=positive_seconds, default=DEFAULT_PACE_S,
                        help=f"seconds between one user's requests at 2x: above the slowest answer (default {DEFAULT_PACE_S:g})")
    parser.add_argument("--out", type=Path, default=Path("reports/overload"),
                        help="where the run directory goes (default reports/overload)")
    parser.add_argument("--project", type=compose_project, default="api-inference-overload",
                        help="Compose project name (default api-inference-overload)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"Nginx's port on this host (default {DEFAULT_PORT})")
    parser.add_argument("--image", help="API image to build and run (default: compose.yaml's, api-inference:latest)")
    parser.add_argument("--model-dir", type=artifact_dir, metavar="DIR",
                        help="artifact the replicas serve instead of the image's own, mounted (compose.yaml's API_MODEL_DIR; "
                             "default: the image's)")
    parser.add_argument("--no-build", action="store_true", help="use the image as it is instead of building it first")
    parser.add_argument("--ready-timeout", type=positive_seconds, default=120.0, metavar="SECONDS",
                        help="how long every replica gets to become healthy (default 120)")
    parser.add_argument("--via", choices=(VIA_NETWORK, VIA_PORT), default=VIA_NETWORK,
                        help="send the load to Nginx's address on the stack's Docker network (default; the published "
                             "port when that address does not answer from this host) or to the published port on "
                             "127.0.0.1, through Docker's userland port proxy")
    parser.add_argument("--pin", type=cpu_pinning, metavar="GEN:STACK", help=PIN_HELP)
    parser.set_defaults(handler=overload_command)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m deploy`` parser with every command."""
    parser = argparse.ArgumentParser(prog="python -m deploy", description="Scale experiments for the inference service.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_command(commands)
    add_capacity_command(commands)
    add_report_command(commands)
    add_recommend_command(commands)
    add_overload_command(commands)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """``run`` and ``capacity``: plan, run (or resume) the matrix, write the reports."""
    redo = [part for item in args.redo for part in item.split(",") if part]
    if redo and args.resume in (None, "latest"):
        raise MatrixError("--redo needs the run directory: --resume DIR --redo ROW")
    if args.out.exists() and not args.out.is_dir():
        raise MatrixError(f"--out {args.out}: not a directory")
    if args.resume:
        if args.only:
            raise MatrixError("--only cannot change what a resumed run covers; start a new run instead")
        run_dir = Path(args.resume) if args.resume != "latest" else latest_unfinished(args.out, args.matrix, args.mode)
        if run_dir is None:
            raise MatrixError(f"no unfinished run of {args.matrix} under {args.out} (`deploy {args.mode}`)")
        matrix, plan = load_matrix(run_dir / MATRIX_COPY), _read_plan(run_dir)
        if plan.mode != args.mode:
            raise MatrixError(f"{run_dir} is a `deploy {plan.mode}` run: resume it with `python -m deploy {plan.mode}`")
        if plan.pinning_unrecorded:
            raise MatrixError(f"{run_dir} ran with {plan.placement}, but its plan.json predates the CPU lists a "
                              "resume checks --pin against: start a new run instead")
        if not plan.same_pinning(args.pin):
            raise MatrixError(f"{run_dir} ran with {plan.placement or 'no --pin'}: resume it with the same --pin")
        args.model_dir = resumed_model_dir(run_dir, plan, args.model_dir)
        selected = tuple(c for c in matrix.configurations if c.index in plan.selected)
        again = matrix.select(redo, "--redo") if redo else ()
        if any(configuration.index not in plan.selected for configuration in again):
            raise MatrixError(f"--redo names a configuration that {run_dir} does not cover")
        for configuration in again if not args.dry_run else ():
            if set_aside(run_dir, configuration.index, configuration.name):
                print(f"{configuration.name}: earlier attempt set aside, measuring it again")
    else:
        matrix = load_matrix(args.matrix)
        selected = matrix.select([part for item in args.only for part in item.split(",") if part])
        run_dir = plan = None
    if args.dry_run:
        redone = {configuration.index for configuration in again} if args.resume else set()
        if args.mode == CAPACITY_MODE:
            print_capacity_plan(matrix, selected, run_dir, redone, args.out,
                                plan.target_rps if plan else args.target_rps)
        else:
            print_plan(matrix, selected, run_dir, redone, args.out)
        return 0

    import docker  # here, so that --dry-run and the other commands need no Docker engine

    from deploy.pinning import generator_on
    from deploy.runner import RunOptions, clear_the_port, describe_host, run_matrix

    try:
        client = docker.from_env()
        host = describe_host(client)
    except docker.errors.DockerException as error:
        print(f"error: cannot reach the Docker engine: {error}", file=sys.stderr)
        return 1
    options = RunOptions(root=Path.cwd(), project=args.project, port=args.port, image=args.image,
                         model_dir=args.model_dir, ready_timeout_s=args.ready_timeout, build=not args.no_build, target_url=args.target,
                         locust_args=tuple(args.locust_arg), pinning=args.pin)
    try:
        clear_the_port(options)  # before a run directory is announced: with the port taken, nothing would run
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    new_run = plan is None
    if new_run:
        plan = Plan(matrix=str(args.matrix), selected=tuple(c.index for c in selected),
                    started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), host=host, mode=args.mode,
                    target_rps=args.target_rps, **Plan.pinning_fields(args.pin),
                    model_dir=None if args.model_dir is None else str(args.model_dir))
        try:
            run_dir = create_run_dir(args.out, matrix, plan)
        except OSError as error:
            raise MatrixError(f"--out {args.out}: cannot create the run directory: {error.strerror}") from error
    print(f"run directory: {run_dir}")
    # SIGTERM (a CI timeout, `kill`) tears the stack down like Ctrl-C does; SIGINT is
    # restored too, since a shell starts background jobs with it ignored.
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    try:
        measure = None
        if plan.mode == CAPACITY_MODE:
            from deploy.capacity_run import measure_capacity
            measure = measure_capacity
        with generator_on(args.pin):
            results = run_matrix(matrix, plan, run_dir, options, client, Progress(len(selected)), measure)
    except StackError as error:
        if new_run:
            discard_unstarted(run_dir)  # nothing ran: a directory with only the plan would only mislead --resume
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ModelChanged as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; the stack is down. Resume with: python -m deploy {plan.mode} {args.matrix} --resume {run_dir}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    code = _finish(run_dir, matrix, read_plan(run_dir), results)  # read again: it now names the model served
    errors = [result.name for result in results if result.status == ERROR]
    if errors:
        print(f"error: {', '.join(errors)} ended in error (the tooling failed, not the configuration; see the reason); "
              f"--resume {run_dir} tries again", file=sys.stderr)
        return EXIT_CONFIGURATION_ERROR
    return code


def report_command(args: argparse.Namespace) -> int:
    """``report``: judge a run directory's results again from their files, rewrite results.*, the plots, the recommendation."""
    matrix, plan = load_matrix(args.run_dir / MATRIX_COPY), _read_plan(args.run_dir)
    try:
        if plan.mode == CAPACITY_MODE:
            from deploy.capacity_run import judge_capacity_again
            results = judge_capacity_again(args.run_dir, matrix, plan)
        else:
            results = judge_again(args.run_dir, matrix, plan)
        if not results:
            print(f"error: {args.run_dir} has no finished configuration yet", file=sys.stderr)
            return 1
        for result in results:
            save_result(result, args.run_dir / result.artifacts)
        return _finish(args.run_dir, matrix, plan, results)
    except (UnreadableResult, UnusableRun) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename or args.run_dir}: {error.strerror or error}", file=sys.stderr)
        return 1


def recommend_command(args: argparse.Namespace) -> int:
    """``recommend``: print the cheapest passing configuration of a run; with ``--k8s``, write its overlay."""
    try:
        results_json = find_results(args.results)
        if is_capacity_run(results_json):
            return _recommend_capacity(results_json, args)
        if args.target_rps is not None:
            raise NoRecommendation(f"{results_json} is a `deploy run` result: --target-rps needs a `deploy capacity` run")
        best = recommended_configuration(results_json)
    except NoRecommendation as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (FileNotFoundError, NotResults) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename}: cannot read it: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"{results_json}: recommended {best.label} ({best.requests_per_s:.0f} req/s, "
          f"p95 {best.p95_ms:.0f} ms, p99 {best.p99_ms:.0f} ms, {best.failure_ratio:.2%} failed), "
          f"sized for {model_words(best.model)}")
    return _write_overlay(best, args.k8s, results_json) if args.k8s is not None else 0


def _write_overlay(replica: ConfigurationResult, directory: Path, results_json: Path, sizing: Sizing | None = None) -> int:
    """Write the overlay, say where; the exit code (2: refused, 1: cannot write)."""
    try:
        written = write_overlay(replica, directory, source=results_json, sizing=sizing)
    except OverlayRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename or directory}: {error.strerror or error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"apply with: kubectl apply -k {directory}")
    return 0


def overload_command(args: argparse.Namespace) -> int:
    """``overload``: bring the configuration up, offer the steps, write overload.md/.json/.png; exit 1 if a target is
    missed, 2 when an input is refused (a capacity measured on another model than the stack serves among them)."""
    from deploy.matrix import parse_memory
    from deploy.overload import CapacityNotFound, OverloadPlan, capacity_from, run_overload, write_reports
    from deploy.pinning import PinningFailed

    try:
        memory_bytes = parse_memory(args.memory)
    except ValueError as error:
        raise MatrixError(f"--memory: {error}") from None
    if args.replicas < 1:
        raise MatrixError(f"--replicas must be at least 1, got {args.replicas}")
    capacity_rps, capacity = args.capacity_rps, None
    if capacity_rps is None:
        try:
            capacity = capacity_from(find_results(args.capacity_from), args.replicas, args.cpus, args.memory)
            capacity_rps = capacity.rps
        except (FileNotFoundError, CapacityNotFound) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (OSError, ValueError) as error:
            print(f"error: {args.capacity_from}: cannot read it: {error}", file=sys.stderr)
            return 2
    plan = OverloadPlan(capacity_rps=capacity_rps, step_s=args.step_s, peak_s=args.peak_s, pace_s=args.pace_s)
    configuration = Configuration(index=1, name="overload", replicas=args.replicas, cpus=args.cpus, memory=args.memory,
                                  memory_limit_bytes=memory_bytes, workers=None)
    slo = Slo()
    directory = args.out / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    command = "python -m deploy " + shlex.join(sys.argv[1:])

    import docker

    from deploy.stack import ComposeStack

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        print(f"error: cannot reach the Docker engine: {error}", file=sys.stderr)
        return 1
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    try:
        result = run_overload(configuration, plan, slo, ComposeStack(args.project, args.port, Path.cwd(), args.image,
                                                                  args.model_dir),
                              client, directory, build=not args.no_build, ready_timeout_s=args.ready_timeout,
                              via=args.via, pinning=args.pin, capacity=capacity)
    except (StackError, PinningFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ModelChanged as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"error: Locust left no usable request log in {directory}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; the stack is down", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    written = write_reports(result, directory, command)
    print()
    print(result.markdown(command))
    print(f"reports: {', '.join(str(path) for path in written)}")
    return 0 if all(check.passed for check in result.checks) else 1


def _recommend_capacity(results_json: Path, args: argparse.Namespace) -> int:
    """``recommend`` for a capacity run: the sizing for --target-rps or its goal; ``--k8s`` writes its overlay.
    Raises NoRecommendation, NotResults, OSError like ``capacity_sizing``."""
    sizing = capacity_sizing(results_json, args.target_rps)
    replica = sizing.pick or sizing.extrapolation.replica
    print(f"{results_json}: " + " ".join(describe_sizing(sizing)) + f" Sized for {model_words(replica.model)}.")
    if args.k8s is None:
        return 0
    return _write_overlay(replica, args.k8s, results_json, sizing)


def _finish(run_dir: Path, matrix: Matrix, plan: Plan, results: list) -> int:
    if plan.mode == CAPACITY_MODE:
        from deploy.capacity_report import table as capacity_table
        from deploy.capacity_report import write_capacity_reports
        from deploy.capacity_run import read_ceiling

        sizing = write_capacity_reports(run_dir, matrix, plan, results, read_ceiling(run_dir))
        lines = [capacity_table(results), "", *(describe_sizing(sizing) if sizing else [])]
    else:
        recommendation = write_reports(run_dir, matrix, plan, results)
        lines = [table(results), "", *describe(recommendation)]
    lines = [*model_lines(plan, results), "", *lines]
    missing = len(plan.selected) - len(results)
    print()
    print("\n".join(lines))
    print(f"\nreports: {run_dir / RESULTS_MD} (and results.csv, results.json, *.png)")
    if missing:
        print(f"{missing} configuration(s) have no result yet; finish with --resume {run_dir}", file=sys.stderr)
    return 0


def print_plan(matrix: Matrix, selected: tuple, run_dir: Path | None, redo: set[int], out: Path = DEFAULT_ROOT) -> None:
    """Print what ``run`` would do: load, SLO, the configurations in order (those ``redo`` names as to do),
    an estimate of the time, and where it would write (``run_dir``, or a new directory under ``out``)."""
    load, slo = matrix.load, matrix.slo
    print(f"matrix {matrix.path}: {len(selected)} of {len(matrix.configurations)} configuration(s)")
    print(f"load: {load.users} users spawned at {load.spawn_rate:g}/s for {load.duration_s} s, shape {load.shape}")
    print(f"SLO: failed ≤ {slo.max_failure_ratio:.1%}, p95 ≤ {slo.p95_ms:g} ms, p99 ≤ {slo.p99_ms:g} ms, "
          f"≥ {slo.min_rps:g} req/s")
    todo = 0
    for configuration in selected:
        workers = f"WEB_CONCURRENCY={configuration.workers}" if configuration.workers else "workers from the CPU quota"
        done = run_dir is not None and configuration.index not in redo and \
            is_finished(run_dir, configuration.index, configuration.name)
        todo += not done
        print(f"  {configuration.index:>2}  {configuration.name:<22} {configuration.label:<26} "
              f"total {configuration.total_cpus:g} CPU, {format_bytes(configuration.total_memory_bytes)}; {workers}"
              + ("  [done, kept]" if done else ""))
    minutes = todo * (load.duration_s + OVERHEAD_PER_CONFIGURATION_S) / 60
    print(f"about {minutes:.0f} min ({load.duration_s} s of load + ~{OVERHEAD_PER_CONFIGURATION_S} s start and "
          f"teardown each, plus the image build)")
    print(f"would write into {run_dir or out / '<timestamp>'}/; dry run: nothing started, nothing written")


def print_capacity_plan(matrix: Matrix, selected: tuple, run_dir: Path | None, redo: set[int], out: Path,
                        target_rps: float | None) -> None:
    """Print what ``capacity`` would do: SLO, search, the configurations with the users their highest rate
    needs, and the time it takes at most (every probe of the budget) and typically."""
    from deploy.capacity_run import PROBE_OVERHEAD_S, estimate_s
    from deploy.loadgen import OpenLoad
    from deploy.search import estimate_probes

    slo, search, goal = matrix.slo, matrix.search, matrix.goal
    print(f"matrix {matrix.path}: {len(selected)} of {len(matrix.configurations)} configuration(s), capacity search")
    print(f"SLO: failed ≤ {slo.max_failure_ratio:.1%}, p95 ≤ {slo.p95_ms:g} ms, p99 ≤ {slo.p99_ms:g} ms; "
          "achieved ≥ 95% of offered; generator not saturated; no OOM kill, restart or unhealthy replica")
    print(f"search: from {search.start_rps:g} req/s, doubling then bisecting to {search.bracket:.0%}, at most "
          f"{search.max_probes} probes of {search.ramp_s:g} s ramp + {search.window_s:g} s window + {search.drain_s:g} s "
          f"drain; one request per {search.pace_s:g} s per user, at most {search.max_users} users "
          f"({search.max_rps:g} req/s)")
    target = target_rps if target_rps is not None else goal.rps
    print(f"goal: {f'{target:g} req/s with {goal.headroom:.0%} headroom' if target else 'none (no sizing)'}")
    todo = []
    for configuration in selected:
        done = run_dir is not None and configuration.index not in redo and \
            is_finished(run_dir, configuration.index, configuration.name)
        if not done:
            todo.append(configuration)
        print(f"  {configuration.index:>2}  {configuration.name:<22} {configuration.label:<26} "
              f"total {configuration.total_cpus:g} CPU, {format_bytes(configuration.total_memory_bytes)}"
              + ("  [done, kept]" if done else ""))
    most_users = OpenLoad(rate_rps=search.max_rps, window_s=search.window_s, pace_s=search.pace_s).users
    print(f"the highest rate, {search.max_rps:g} req/s, runs {most_users} Locust users, each a connection to Nginx")
    at_most_s = estimate_s(search, len(todo)) + len(todo) * OVERHEAD_PER_CONFIGURATION_S
    typical = sum(estimate_probes(search.start_rps, TYPICAL_RPS_PER_CPU * c.total_cpus, search.max_rps, search.bracket,
                                  search.max_probes) for c in todo)
    typical_s = estimate_s(search, 0) + typical * (search.probe_s + PROBE_OVERHEAD_S) \
        + len(todo) * OVERHEAD_PER_CONFIGURATION_S
    print(f"about {typical_s / 60:.0f} min ({typical} probes if each configuration holds ~{TYPICAL_RPS_PER_CPU} req/s "
          f"per CPU), at most {at_most_s / 60:.0f} min (every probe of the budget), plus the image build")
    print(f"would write into {run_dir or out / '<timestamp>'}/; dry run: nothing started, nothing written")


def resumed_model_dir(run_dir: Path, plan: Plan, given: Path | None) -> Path | None:
    """The artifact a resumed run serves: the plan's ``model_dir`` (None: the image's built-in model; so is an
    old plan's, written before plans recorded the model). Raises MatrixError when ``given`` (--model-dir)
    is another, or the plan's artifact is gone."""
    if given is not None and str(given) != plan.model_dir:
        measured = f"the artifact in {plan.model_dir}" if plan.model_dir else (
            "the image's built-in model" + (" (its plan.json predates the record of the model)"
                                            if plan.predates_model_record else ""))
        raise MatrixError(f"{run_dir} measured {measured}, not --model-dir {given}: resume it without --model-dir, "
                          "or start a new run")
    if plan.model_dir is None:
        return None
    try:
        return artifact_dir(plan.model_dir)
    except argparse.ArgumentTypeError as error:
        raise MatrixError(f"{run_dir} measured the artifact in {plan.model_dir}, which is no longer one ({error}): "
                          "it cannot be resumed") from None


def _read_plan(run_dir: Path) -> Plan:
    """``run_dir``'s plan; raises MatrixError when plan.json is missing or not one ``run`` wrote."""
    try:
        return read_plan(run_dir)
    except FileNotFoundError as error:
        raise MatrixError(f"{run_dir} is not a run directory of `deploy run`: it has no {PLAN_FILE}") from error
    except OSError as error:
        raise MatrixError(f"{run_dir}: cannot read its plan: {error.strerror}") from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # bad JSON or UTF-8 is a ValueError too
        raise MatrixError(f"{run_dir}: its plan is not one `deploy run` wrote ({error!r})") from error


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; the exit code (2 for a bad matrix or arguments, 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except MatrixError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
