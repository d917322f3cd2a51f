"""The framework's floor: a bare Flask app, with nothing of the service's around a request.

``POST /bench/bare`` answers ``{"status": "ok"}`` through ``jsonify``: no request
hooks, no metrics, no access log, no error handlers. ``bench/bare_gunicorn.conf.py``
runs it under the service's own worker settings, so the service's ``/predict``
against it is what the service's plumbing and the model cost on top of Flask
and Gunicorn themselves. It answers GET too, for the readiness check.
"""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

BARE_ROUTE = "/bench/bare"


def create_bare_app() -> Flask:
    """A Flask app with one route, ``BARE_ROUTE`` (GET and POST), and nothing else."""
    app = Flask(__name__)

    @app.route(BARE_ROUTE, methods=["GET", "POST"])
    def bare() -> ResponseReturnValue:
        return jsonify(status="ok")

    return app
