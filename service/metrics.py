"""Prometheus metrics, summed across Gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``gunicorn.conf.py`` sets it before the
app is imported) every worker writes its samples to memory-mapped files there
and ``/metrics`` aggregates them, as prometheus_client's multiprocess mode
documents; without it (tests, ``flask run``) the process's own registry is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("http_requests_total", "HTTP requests answered, by route, method and status.", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request received to response returned by the app, by route.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# A regression's predictions are counted under class_name="" (no class).
PREDICTIONS = Counter("predictions_total", "Predictions made, by predicted class.", ["class_name"])
MODEL_INFO = Gauge(
    "model_info", "The model being served (value 1).", ["name", "version"], multiprocess_mode="max"
)

bp = Blueprint("metrics", __name__)

# Label values must come from a closed set, or any client could mint new series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Each metric's child per label values, as prometheus_client's ``labels()`` returns
# it: that call checks and locks on every request (about 1 µs for each metric
# written), a dict lookup does not. Bounded as the label values are.
_CHILDREN: dict[tuple[Any, tuple[str, ...]], Any] = {}


def child(metric: Any, *label_values: str) -> Any:
    """``metric.labels(*label_values)``, looked up once per label values."""
    key = (metric, label_values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*label_values)
    return found


def method_label(method: str) -> str:
    """``method`` when it is a standard HTTP method, else ``"other"``."""
    return method if method in HTTP_METHODS else "other"


def observe_request(route: str, method: str, status: int, duration_s: float | None) -> None:
    """Count one answered request in ``http_requests_total`` and, when known, its
    time in ``http_request_duration_seconds``; ``route`` is the URL rule or ``"unmatched"``."""
    child(REQUESTS, route, method_label(method), str(status)).inc()
    if duration_s is not None:
        child(LATENCY, route).observe(duration_s)


def count_prediction(class_name: str) -> None:
    """Add one prediction of ``class_name`` to ``predictions_total``."""
    child(PREDICTIONS, class_name).inc()


def count_predictions(class_ids: np.ndarray, class_names: Sequence[str]) -> None:
    """Add a batch's predictions to ``predictions_total``: one increment per class
    present, not per row (each is a locked write to a shared file in multiprocess mode)."""
    counts = np.bincount(class_ids, minlength=len(class_names)).tolist()
    for class_name, count in zip(class_names, counts):
        if count:
            child(PREDICTIONS, class_name).inc(count)


def count_values(n_rows: int) -> None:
    """Add a regression's ``n_rows`` predictions to ``predictions_total``, under ``class_name=""``."""
    child(PREDICTIONS, "").inc(n_rows)


def registry() -> CollectorRegistry:
    """The registry to expose: an aggregate of all workers in multiprocess mode, else the default."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)
        return aggregate
    return REGISTRY


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition format."""
    # content_type, not mimetype: CONTENT_TYPE_LATEST already carries its charset,
    # and Flask would add a second one, which strict parsers refuse.
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
