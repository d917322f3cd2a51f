"""Print a finished load test's summary: ``python -m loadtest.summary PREFIX``.

``PREFIX`` is the ``--csv`` prefix of the run: the numbers come from Locust's
``PREFIX_stats.csv`` (its ``Aggregated`` row), the verdict from the
``PREFIX_verdict.json`` the locustfile wrote when the run ended. Exit code: 0
when the SLO was met, 1 when it was missed, 2 when the files are missing or
unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loadtest.slo import RunStats, Slo, Verdict, read_stats_csv

MISSING_EXIT_CODE = 2


def _ms(value: float) -> str:
    return f"{value:g} ms"


def format_summary(stats: RunStats, slo: Slo, verdict: Verdict) -> str:
    """The summary, one aspect per line."""
    return "\n".join((
        f"requests    {stats.requests} ({stats.failures} failed, {100 * stats.failure_ratio:.2f}%)",
        f"throughput  {stats.requests_per_s:.1f} requests/s",
        f"latency     p50 {_ms(stats.p50_ms)}, p95 {_ms(stats.p95_ms)}, p99 {_ms(stats.p99_ms)}",
        f"SLO         failures <= {100 * slo.max_failure_ratio:g}%, p95 <= {_ms(slo.p95_ms)}, "
        f"p99 <= {_ms(slo.p99_ms)}, throughput >= {slo.min_rps:g} requests/s",
        f"verdict     {verdict.describe()}",
    ))


def run_prefix(prefix: str) -> str:
    """``prefix`` itself, or for a directory holding one run, that run's prefix (``DIR/NAME``)."""
    path = Path(prefix)
    if path.is_dir():
        runs = sorted(path.glob("*_stats.csv"))
        if len(runs) == 1:
            return str(runs[0])[: -len("_stats.csv")]
    return prefix


def read_verdict(path: Path) -> tuple[Slo, Verdict]:
    """The SLO and verdict a headless run wrote; ``ValueError`` in words when the file is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        slo = Slo(**document["slo"])
        verdict = Verdict(bool(document["passed"]), tuple(document["reasons"]))
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ValueError(f"{path} is not the verdict a headless run writes (an object with slo, passed and reasons)") from None
    return slo, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", help="the run's --csv prefix, e.g. reports/loadtest/20250101T120000/run, "
                                       "or the directory holding it")
    prefix = run_prefix(parser.parse_args(argv).prefix)
    try:
        stats = read_stats_csv(f"{prefix}_stats.csv")
        slo, verdict = read_verdict(Path(f"{prefix}_verdict.json"))
    except OSError as error:
        print(f"error: no complete load test results at {prefix}: {error.filename}: {error.strerror}", file=sys.stderr)
        return MISSING_EXIT_CODE
    except ValueError as error:
        print(f"error: no complete load test results at {prefix}: {error}", file=sys.stderr)
        return MISSING_EXIT_CODE
    print(format_summary(stats, slo, verdict))
    print(f"reports     {Path(prefix).parent}/")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
