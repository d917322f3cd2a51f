"""The app the benchmark serves: the production app plus a do-nothing JSON route.

``gunicorn -c service/gunicorn.conf.py "bench.wsgi:create_bench_app()"`` runs it
with the production Gunicorn settings. ``POST /bench/ceiling`` goes through the
same request hooks, error handlers, metrics and access log as ``/predict`` but
does no work, so its requests per second are the ceiling any route of this app
can reach on that configuration. The production app never has this route.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from service import create_app

CEILING_ROUTE = "/bench/ceiling"


def ceiling() -> ResponseReturnValue:
    """Answer a small JSON object without reading the body or touching the model."""
    return jsonify(status="ok")


def create_bench_app(config: dict[str, Any] | None = None) -> Flask:
    """``create_app(config)`` with ``POST /bench/ceiling`` added."""
    app = create_app(config)
    app.add_url_rule(CEILING_ROUTE, "bench_ceiling", ceiling, methods=["POST"])
    return app
