"""Liveness, readiness and model metadata: ``/health``, ``/ready``, ``/model``."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from service.config import GUNICORN_SETTINGS
from service.errors import NotReady
from service.model import Model

bp = Blueprint("probes", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Liveness: the process answers. Says nothing about the model."""
    return jsonify(status="ok")


def ready_model() -> Model:
    """The served model once its self-test passed; ``NotReady`` (503 ``not_ready``, with the reason) before.

    /ready and every prediction route ask this, so a replica that is not ready
    refuses predictions too, and Nginx retries them on another replica.
    """
    model: Model = current_app.extensions["model"]
    if not model.ready:
        raise NotReady(f"model {model.version} is not ready: {model.ready_reason}")
    return model


@bp.get("/ready")
def ready() -> ResponseReturnValue:
    """Readiness: the model is loaded and its self-test passed; 503 with the reason otherwise.

    Under Gunicorn the answer also says how it runs the app (``gunicorn``: workers, worker class,
    threads per worker), so tools read the worker count as data rather than from the log.
    """
    model = ready_model()
    body = {"status": "ready", "model_name": model.name, "model_version": model.version}
    if GUNICORN_SETTINGS in current_app.config:
        body["gunicorn"] = current_app.config[GUNICORN_SETTINGS]
    return jsonify(body)


@bp.get("/model")
def model_metadata() -> ResponseReturnValue:
    """The served model's metadata, as written by training."""
    model: Model = current_app.extensions["model"]
    return jsonify(model.metadata)
