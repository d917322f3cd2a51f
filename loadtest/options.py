"""The load test's knobs, registered as Locust's own options.

``add_arguments`` is called from the locustfile's ``init_command_line_parser``
listener, so every knob works as a command-line option (``--batch-share 0.2``),
an environment variable (``LOCUST_BATCH_SHARE=0.2``) and a ``locust.conf`` line
(``batch-share = 0.2``), with Locust's precedence: command line, then
environment, then config file. Locust's docs: "Custom arguments"
(https://docs.locust.io/en/stable/extending-locust.html#custom-arguments).
"""

from __future__ import annotations

import argparse
import configparser
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest.rate_steps import parse_rate_steps
from loadtest.slo import Slo

WAIT_MODELS = ("between", "constant_throughput")
SHAPE_NAMES = ("none", "constant", "step", "spike")
SPIKE_AT_S = 20.0
SPIKE_DURATION_S = 20.0
# The settings file Locust reads from the directory it runs in (the repository).
LOCUST_CONF = Path("locust.conf")


def share(text: str) -> float:
    """A fraction in [0, 1]; raises ``argparse.ArgumentTypeError`` otherwise."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer > 0; raises ``argparse.ArgumentTypeError`` otherwise."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """A number > 0; raises ``argparse.ArgumentTypeError`` otherwise."""
    value = float(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A number >= 0; raises ``argparse.ArgumentTypeError`` otherwise."""
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _add(parser: Any, name: str, **kwargs: Any) -> None:
    env_var = "LOCUST_" + name.upper().replace("-", "_")
    parser.add_argument(f"--{name}", env_var=env_var, **kwargs)


def add_arguments(parser: Any) -> None:
    """Register the knobs on Locust's ``LocustArgumentParser``.

    Shape options are hidden from the web UI: the shape is installed when Locust
    starts, so editing them in the form would change nothing.
    """
    slo = Slo()
    _add(parser, "model-metadata", default="", metavar="PATH_OR_URL",
         help="The served model's metadata.json (a file or URL); empty: the target's GET /model when the test starts")
    _add(parser, "batch-share", type=share, default=0.1,
         help="Share of the valid requests sent as one batch instead of one row (0-1)")
    _add(parser, "batch-size", type=positive_int, default=10, help="Rows per batch request")
    _add(parser, "invalid-share", type=share, default=0.02,
         help="Share of all requests that are deliberately invalid (tag 'invalid'); "
              "the expected 4xx counts as a success (0-1)")
    _add(parser, "wait-model", choices=WAIT_MODELS, default="between",
         help="between: closed model, each user waits --wait-min-s..--wait-max-s after each answer; "
              "constant_throughput: open model, each user starts --throughput-per-user requests per second "
              "on a fixed schedule from a random phase, whatever the answers while they come faster")
    _add(parser, "wait-min-s", type=non_negative_float, default=0.1, help="Shortest wait between requests, s")
    _add(parser, "wait-max-s", type=non_negative_float, default=0.5, help="Longest wait between requests, s")
    _add(parser, "throughput-per-user", type=positive_float, default=2.0,
         help="Requests per second each user aims at with --wait-model constant_throughput")
    _add(parser, "rate-steps", type=parse_rate_steps, default=None, include_in_web_ui=False, metavar="RATE:S,...",
         help="Open load in steps: the --users together start RATE requests/s for S seconds, then the next "
              "step's (replaces --wait-model; spawn them at the first RATE)")
    _add(parser, "request-log", default="", include_in_web_ui=False, metavar="PATH",
         help="Write every request (start, latency, status) as a CSV row into PATH (local runs)")
    _add(parser, "slo-max-failure-ratio", type=share, default=slo.max_failure_ratio,
         help="SLO: largest share of failed requests (0-1)")
    _add(parser, "slo-p95-ms", type=positive_float, default=slo.p95_ms, help="SLO: largest 95th percentile latency, ms")
    _add(parser, "slo-p99-ms", type=positive_float, default=slo.p99_ms, help="SLO: largest 99th percentile latency, ms")
    _add(parser, "slo-min-rps", type=non_negative_float, default=slo.min_rps,
         help="SLO: smallest achieved throughput over the run, requests/s")
    _add(parser, "shape", choices=SHAPE_NAMES, default="none", include_in_web_ui=False,
         help="Load shape: none (plain --users/--spawn-rate/--run-time), constant, step or spike")
    _add(parser, "step-users", type=positive_int, default=10, include_in_web_ui=False,
         help="Shape step: users added at each step, up to --users")
    _add(parser, "step-time-s", type=positive_float, default=30.0, include_in_web_ui=False,
         help="Shape step: seconds between steps")
    _add(parser, "spike-users", type=positive_int, default=50, include_in_web_ui=False,
         help="Shape spike: users during the spike (--users before and after it)")
    _add(parser, "spike-at-s", type=non_negative_float, default=SPIKE_AT_S, include_in_web_ui=False,
         help="Shape spike: seconds from the start to the spike")
    _add(parser, "spike-duration-s", type=positive_float, default=SPIKE_DURATION_S, include_in_web_ui=False,
         help="Shape spike: how long the spike lasts, s")


def setting(name: str, default: str, config: Path = LOCUST_CONF, env: Mapping[str, str] = os.environ) -> str:
    """What Locust run without ``--name`` on its command line takes for option ``name`` (e.g. ``"spike-at-s"``).

    Locust's precedence below the command line: the environment variable
    (``LOCUST_SPIKE_AT_S``), then ``config``'s ``name = value`` line, then ``default``.
    Raises ``ValueError`` when ``config`` exists but cannot be read as such lines.
    """
    variable = "LOCUST_" + name.upper().replace("-", "_")
    if variable in env:
        return env[variable]
    if not config.is_file():
        return default
    parser = configparser.ConfigParser(comment_prefixes=("#", ";"), interpolation=None)
    try:
        parser.read_string("[locust]\n" + config.read_text(encoding="utf-8"), source=str(config))
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        raise ValueError(f"{config}: cannot read: {error}") from error
    return parser.get("locust", name, fallback=default)


def request_mix(batch_share: float, invalid_share: float) -> dict[str, float]:
    """Share of each request kind: ``{"predict_one", "predict_batch", "send_invalid"}`` -> share, summing to 1.

    ``invalid_share`` is a share of all requests, ``batch_share`` a share of the valid ones.
    """
    valid_share = 1.0 - invalid_share
    return {
        "predict_one": valid_share * (1.0 - batch_share),
        "predict_batch": valid_share * batch_share,
        "send_invalid": invalid_share,
    }


def slo_from(options: argparse.Namespace) -> Slo:
    """The SLO the ``--slo-*`` options set."""
    return Slo(
        max_failure_ratio=options.slo_max_failure_ratio,
        p95_ms=options.slo_p95_ms,
        p99_ms=options.slo_p99_ms,
        min_rps=options.slo_min_rps,
    )
