"""``python -m bench`` (``make bench``): the service against the model's own cost and the framework's ceiling.

Prints a table in which every figure stands beside the ratio it belongs to, and
writes ``bench.json``, ``bench.md`` and ``bench.png`` into
``reports/bench/<timestamp>/``. Bounded: a few minutes with the defaults (170 s without the worker classes and memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from bench import direct, inprocess, memory, nginx, workers
from bench.load import WRK_INSTALL_HINT, wrk_available
from bench.plot import plot
from bench.report import render_markdown, render_text, rows, summarise
from bench.server import BARE, gunicorn
from stack.compose import PROJECT_PATTERN
from training.artifact import ArtifactError, load_artifact, model_dir_from_env

DEFAULT_OUT_DIR = Path("reports/bench")
# wrk's -d and Locust's --run-time take whole seconds; latency runs drop their first
# LATENCY_WARMUP_S (bench.load.run_locust's warmup_s), so a shorter run would record nothing.
MIN_RUN_S = 1
LATENCY_WARMUP_S = 1.0
MIN_LATENCY_S = int(LATENCY_WARMUP_S) + 1
# A whole benchmark runs some 40 measurements: past these it would take hours.
MAX_RUN_S = 300
MAX_REPEATS = 20
MAX_ROUNDS = 60
PACKAGES = {"sklearn": "scikit-learn", "numpy": "numpy", "flask": "flask", "gunicorn": "gunicorn", "locust": "locust"}


def bounded_int(minimum: int, why: str, maximum: int) -> Callable[[str], int]:
    """An argparse ``type=`` that accepts whole numbers from ``minimum`` to ``maximum`` and
    otherwise raises ``argparse.ArgumentTypeError`` (naming ``why`` below the minimum), so
    argparse exits with status 2."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum of {minimum} ({why})")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is above the maximum of {maximum}")
        return value
    return parse


def project_prefix(text: str) -> str:
    """An argparse ``type=`` for a Compose project name prefix: Compose's own rule, else exit 2."""
    if not PROJECT_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Compose project name (lower-case letters, digits, - and _)")
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; exits with status 2 and a one-line message on a bad value."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="artifact to serve (None: $MODEL_DIR or models/iris)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="reports go in OUT_DIR/<timestamp>/")
    parser.add_argument("--run-s", type=bounded_int(MIN_RUN_S, "a run needs at least one whole second", MAX_RUN_S),
                        default=4, help=f"seconds per maximum-rate run, whole, {MIN_RUN_S} to {MAX_RUN_S}")
    parser.add_argument("--repeats", type=bounded_int(1, "at least one run per measurement", MAX_REPEATS), default=3,
                        help=f"runs per measurement, 1 to {MAX_REPEATS}")
    parser.add_argument("--rounds", type=bounded_int(1, "at least one round", MAX_ROUNDS), default=12,
                        help=f"rounds of the side-by-side comparisons (/predict, ceiling, bare Flask; Nginx, replica), 1 to {MAX_ROUNDS}")
    parser.add_argument("--round-s", type=bounded_int(MIN_RUN_S, "a run needs at least one whole second", MAX_RUN_S),
                        default=1, help=f"seconds per server in each round, whole, {MIN_RUN_S} to {MAX_RUN_S}")
    parser.add_argument("--latency-s", type=bounded_int(MIN_LATENCY_S, f"Locust drops its first {LATENCY_WARMUP_S:g} s as warm-up", MAX_RUN_S),
                        default=6, help=f"seconds of each rate-limited latency run, whole, {MIN_LATENCY_S} to {MAX_RUN_S}")
    parser.add_argument("--allow-locust", action="store_true",
                        help="without wrk, drive the full-speed runs with Locust, whose rates are then lower bounds")
    parser.add_argument("--skip-nginx", action="store_true", help="leave out the compose stack")
    parser.add_argument("--project-prefix", type=project_prefix, default=nginx.DEFAULT_PROJECT_PREFIX,
                        help="the Nginx step's Compose project is PREFIX-<pid>-<time>, its image api-inference:<that less 'api-inference-'>")
    parser.add_argument("--skip-workers", action="store_true", help="leave out the worker-class comparison")
    parser.add_argument("--skip-memory", action="store_true", help="leave out memory per worker count")
    return parser.parse_args(argv)


def cpu_model() -> str:
    """The processor's name from /proc/cpuinfo, or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """Python and the libraries whose speed the figures depend on (and wrk's when present)."""
    found = {"python": platform.python_version()}
    found.update({name: metadata.version(package) for name, package in PACKAGES.items()})
    if wrk_available():
        banner = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()
        found["wrk"] = banner[1] if len(banner) > 1 else "unknown"
    return found


def cpu_plan() -> tuple[int | None, str | None, dict[int, str]]:
    """(generator CPU, server CPU list, CPU lists for 1 and 2 CPUs): the generator on the first
    CPU this process may use, the server on the second; unpinned when there is only one or no taskset."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or shutil.which("taskset") is None:
        return None, None, {1: None} if allowed else {}
    return allowed[0], str(allowed[1]), {1: str(allowed[1]), 2: f"{allowed[0]},{allowed[1]}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model_dir = args.model_dir or model_dir_from_env()
    try:
        load_artifact(model_dir)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc)
    # Made now, so an unusable --out-dir is said before minutes of measuring, not after.
    out_dir = args.out_dir / started_at.strftime("%Y%m%dT%H%M%SZ")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot write reports into {args.out_dir}: {exc.strerror}", file=sys.stderr)
        return 2

    if not wrk_available() and not args.allow_locust:
        # One Locust process reaches about what one worker answers, so its
        # full-speed runs would measure Locust: say so before minutes of that.
        out_dir.rmdir()
        print(f"error: wrk not found: {WRK_INSTALL_HINT}; or pass --allow-locust to measure with Locust "
              "(full-speed rates are then lower bounds, set by Locust)", file=sys.stderr)
        return 2

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    generator_cpu, server_cpus, cpu_sets = cpu_plan()
    settings = direct.Settings(run_s=args.run_s, repeats=args.repeats, latency_s=args.latency_s, generator_cpu=generator_cpu,
                              rounds=args.rounds, round_s=args.round_s)
    generator = "wrk" if wrk_available() else "locust"
    if generator == "locust":
        progress(f"wrk not found ({WRK_INSTALL_HINT}): maximum-rate runs use Locust, "
                 "which will likely saturate before the server; the report will say so.")
    if server_cpus is None:
        progress("fewer than 2 CPUs or no taskset: server and generator share CPUs; figures are not comparable")
    header: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "versions": versions(),
        "generator": generator,
        "server_cpus": server_cpus,
        "generator_cpu": generator_cpu,
        "settings": vars(args) | {"model_dir": str(model_dir), "out_dir": str(args.out_dir)},
    }
    measurements: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        bodies = {"single": scratch / "single.json"}
        artifact = load_artifact(model_dir)
        bodies["single"].write_text(json.dumps(inprocess.single_body(artifact)))
        for size in inprocess.BATCH_SIZES:
            bodies[f"batch{size}"] = scratch / f"batch{size}.json"
            bodies[f"batch{size}"].write_text(json.dumps(inprocess.batch_body(artifact, size)))

        progress(f"1/6 the model alone: scikit-learn {inprocess.model_method(artifact)}, 1 row and batches (timeit)")
        measurements["model"] = inprocess.model_costs(model_dir)
        progress(f"  {measurements['model']['model_1_row_us']:.1f} µs per 1-row call")
        progress("2/6 one request in process: Flask test client, /predict and /bench/ceiling")
        measurements["in_process"] = inprocess.request_costs(model_dir)
        progress(f"  /predict {measurements['in_process']['test_client_predict_us']:.1f} µs, "
                 f"ceiling {measurements['in_process']['test_client_ceiling_us']:.1f} µs")

        progress(f"3/6 Gunicorn (1 worker, the configuration's defaults) on CPU {server_cpus}, {generator} on CPU {generator_cpu}; "
                 f"beside it, a bare Flask app under the same worker settings; {args.rounds} rounds of {args.round_s} s each, "
                 "the order reversed every other round")
        with gunicorn(scratch / "direct.log", cpus=server_cpus, workers=1, model_dir=model_dir) as server, \
                gunicorn(scratch / "bare.log", cpus=server_cpus, workers=1, app=BARE) as bare:
            progress(f"  {server.announcement()}")
            measurements["direct"] = direct.measure(server, bare, bodies, settings, progress)
            header["direct_server"] = server.announcement()

        if args.skip_nginx:
            measurements["nginx"] = {"skipped": "--skip-nginx"}
        else:
            progress(f"4/6 through Nginx: compose stack, 1 api replica at 1.0 CPU serving the same artifact; {args.rounds} "
                     "rounds of the replica direct and through Nginx, from the same client path")
            measurements["nginx"] = nginx.measure(bodies["single"], model_dir, settings, progress, args.project_prefix,
                                                 replica_cpus=server_cpus, proxy_cpus=None if generator_cpu is None else str(generator_cpu))
            if "skipped" in measurements["nginx"]:
                progress(f"  skipped: {measurements['nginx']['skipped']}")

        if not args.skip_memory:
            progress("5/6 memory of one replica (PSS, master + workers) for 1, 2, 4 workers")
            measurements["memory"] = memory.measure(model_dir, bodies["single"], bodies["batch1000"], settings, scratch, progress)

        if not args.skip_workers:
            progress(f"6/6 worker classes at 1 and 2 CPUs ({', '.join(f'{c} CPU: {s}' for c, s in cpu_sets.items())})")
            measurements["worker_classes"] = workers.measure(cpu_sets, model_dir, bodies["single"], settings, scratch, progress)

    summary = summarise(measurements)
    table = rows(summary, measurements)
    header["duration_s"] = round(time.perf_counter() - started, 1)
    document = {**summary, **header, "measurements": measurements}
    (out_dir / "bench.json").write_text(json.dumps(document, indent=2) + "\n")
    (out_dir / "bench.md").write_text(render_markdown(table, summary, header))
    plot(summary, out_dir / "bench.png")
    print()
    print(render_text(table, summary))
    print(f"\nreports: {out_dir}/bench.json, bench.md, bench.png ({header['duration_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
