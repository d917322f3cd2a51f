"""The inference service: ``create_app()`` builds the Flask app.

Gunicorn runs it as ``service:create_app()`` (see ``service/gunicorn.conf.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from service import config as service_config
from service import body, errors, logs, metrics, openapi, predict, probes, tracking, v2
from service.options import App
from service.model import load_model


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``config`` overrides, then the model.

    Raises ``training.artifact.ArtifactError`` (a ``RuntimeError`` with a one-line
    reason) when the model artifact is missing or unusable, and
    ``service.config.ConfigError`` for a bad environment variable.
    """
    app = App(__name__)
    app.config.update(service_config.from_env())
    if config:
        app.config.update(config)
    app.json.sort_keys = False
    if not app.config.get("TESTING"):
        logs.configure(app.config["LOG_LEVEL"])

    model = load_model(Path(app.config["MODEL_DIR"]))
    app.extensions["model"] = model
    # Built once from the artifact's contract: no request pays for it.
    inputs = predict.inputs_for(model.contract.features)
    app.extensions["inputs"] = inputs
    app.extensions["openapi"] = openapi.build_spec(app.config["MAX_BATCH_SIZE"], model.contract, inputs)
    metrics.MODEL_INFO.labels(model.name, model.version).set(1)

    tracking.init_app(app)
    errors.init_app(app)
    body.init_app(app)
    for blueprint in (predict.blueprint(inputs), probes.bp, metrics.bp, openapi.bp, v2.bp):
        app.register_blueprint(blueprint)
    return app
