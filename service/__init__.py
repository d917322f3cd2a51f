"""The inference service: ``create_app()`` builds the Flask app.

Gunicorn runs it as ``service:create_app()`` (see ``service/gunicorn.conf.py``).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from service import config as service_config
from service import body, errors, logs, metrics, openapi, predict, probes, v2
from service.model import load_model

# A caller's X-Request-ID is echoed only when it is short and printable; otherwise we make one.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _init_request_context(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        caller_id = request.headers.get("X-Request-ID", "")
        g.request_id = caller_id if REQUEST_ID_PATTERN.fullmatch(caller_id) else uuid.uuid4().hex

    @app.after_request
    def _finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        request.environ[logs.ROUTE_ENVIRON_KEY] = route
        response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
        metrics.REQUESTS.labels(route, metrics.method_label(request.method), str(response.status_code)).inc()
        if "started" in g:
            metrics.LATENCY.labels(route).observe(time.perf_counter() - g.started)
        return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``config`` overrides, then the model.

    Raises ``training.artifact.ArtifactError`` (a ``RuntimeError`` with a one-line
    reason) when the model artifact is missing or unusable, and
    ``service.config.ConfigError`` for a bad environment variable.
    """
    app = Flask(__name__)
    app.config.update(service_config.from_env())
    if config:
        app.config.update(config)
    app.json.sort_keys = False
    if not app.config.get("TESTING"):
        logs.configure(app.config["LOG_LEVEL"])

    model = load_model(Path(app.config["MODEL_DIR"]))
    app.extensions["model"] = model
    app.extensions["openapi"] = openapi.build_spec(app.config["MAX_BATCH_SIZE"])
    metrics.MODEL_INFO.labels(model.name, model.version).set(1)

    _init_request_context(app)
    errors.init_app(app)
    body.init_app(app)
    for blueprint in (predict.bp, probes.bp, metrics.bp, openapi.bp, v2.bp):
        app.register_blueprint(blueprint)
    return app
