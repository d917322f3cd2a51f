"""One error shape for every 4xx/5xx the API sends.

    {"error": {"status": 400, "code": "validation_error",
               "message": "sepal_length: Not a valid number.",
               "fields": {"sepal_length": ["Not a valid number."]}},
     "request_id": "..."}

Domain errors are raised where they are detected (``ApiError`` subclasses)
and rendered here; Werkzeug's HTTP errors (404, 405, 413, ...) go through the
same helper. A part of the API that speaks a protocol of its own registers its
shape for its paths (``add_error_shape``): the Open Inference Protocol's
``/v2`` answers ``{"error": "<message>"}``, with the same status and message.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.routing import WebsocketMismatch

from service.logs import REQUEST_ID_ENVIRON_KEY

LOG = logging.getLogger(__name__)
# app.extensions key: {path prefix: error message -> the JSON body to answer on that prefix's paths}.
ERROR_SHAPES = "error_shapes"
ErrorShape = Callable[[str], dict[str, Any]]


class ApiError(Exception):
    """Base of the errors the API answers with; subclasses fix the status and code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidJSON(ApiError):
    code = "invalid_json"


class ValidationFailed(ApiError):
    code = "validation_error"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class BatchTooLarge(ApiError):
    status_code = 413
    code = "batch_too_large"


class NotReady(ApiError):
    status_code = 503
    code = "not_ready"


# HTTP statuses raised by Werkzeug or answered by Gunicorn itself
# (service/protocol_errors.py), as stable snake_case codes.
HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
}
INTERNAL_ERROR_MESSAGE = "The server failed to answer this request; it has been logged."


def http_code(status: int) -> str:
    """The error code for an HTTP ``status``: ``HTTP_CODES``, else ``http_<status>``."""
    return HTTP_CODES.get(status, f"http_{status}")


def field_path(prefix: str, key: str | int) -> str:
    """The name of ``key`` (a field name, a list index, or marshmallow's ``_schema`` for the object itself)
    inside the field named ``prefix`` ("" for the body): ``instances[3].sepal_length``."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key == "_schema":
        return prefix or "body"
    return f"{prefix}.{key}" if prefix else str(key)


def flatten_messages(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested error dict into ``{"instances[3].sepal_length": [...]}``."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            for field, problems in flatten_messages(value, field_path(prefix, key)).items():
                flat.setdefault(field, []).extend(problems)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": list(messages)}
    return {prefix or "body": [str(messages)]}


# An error answer stays small however many fields a body gets wrong, and
# however long the names and values it echoes back (an unknown key of 1 MB).
MAX_FIELDS_REPORTED = 20
MAX_NAME_CHARS = 100
MAX_MESSAGE_CHARS = 2000


FINGERPRINT_HEX_DIGITS = 12


def clip(text: str, limit: int) -> str:
    """``text`` if it is at most ``limit`` characters, else its start and its length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def clip_name(name: str) -> str:
    """``name`` clipped at ``MAX_NAME_CHARS``; a clipped one also carries the first ``FINGERPRINT_HEX_DIGITS``
    hex digits of its UTF-8 SHA-256, so distinct names sharing their start and length stay distinct keys."""
    clipped = clip(name, MAX_NAME_CHARS)
    if clipped == name:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:FINGERPRINT_HEX_DIGITS]
    return f"{clipped[:-1]}, sha256 {digest})"


def summarise(fields: dict[str, list[str]], total: int | None = None) -> str:
    """One human sentence naming each field (the first ``MAX_FIELDS_REPORTED``) and its first problem;
    ``total`` counts the bad fields when ``fields`` holds only the first of them (default: ``len(fields)``)."""
    shown = list(itertools.islice(fields.items(), MAX_FIELDS_REPORTED))
    sentence = "; ".join(f"{clip_name(field)}: {problems[0]}" for field, problems in shown)
    hidden = (len(fields) if total is None else total) - len(shown)
    return f"{sentence}; and {hidden} more field(s)" if hidden > 0 else sentence


def add_error_shape(app: Flask, prefix: str, shape: ErrorShape) -> None:
    """Answer errors on ``prefix`` and the paths under it with ``shape(message)`` instead of the API's envelope."""
    app.extensions.setdefault(ERROR_SHAPES, {})[prefix] = shape


def shape_for(app: Flask, path: str) -> ErrorShape | None:
    """The error shape ``add_error_shape`` registered on ``app`` for ``path``; None for the API's envelope."""
    for prefix, shape in app.extensions.get(ERROR_SHAPES, {}).items():
        if path == prefix or path.startswith(f"{prefix}/"):
            return shape
    return None


def error_response(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> ResponseReturnValue:
    """Build the JSON error body every failing route returns: the envelope, or the shape registered for the path.

    Field names longer than ``MAX_NAME_CHARS`` (``clip_name``) and messages longer
    than ``MAX_MESSAGE_CHARS`` are clipped, so a client's input is never echoed whole.
    """
    shape = shape_for(current_app, request.path)
    if shape is not None:
        return jsonify(shape(clip(message, MAX_MESSAGE_CHARS))), status
    reported = {
        clip_name(field): [clip(problem, MAX_MESSAGE_CHARS) for problem in problems]
        for field, problems in itertools.islice((fields or {}).items(), MAX_FIELDS_REPORTED)
    }
    body = {
        "error": {"status": status, "code": code, "message": clip(message, MAX_MESSAGE_CHARS), "fields": reported},
        "request_id": request.environ.get(REQUEST_ID_ENVIRON_KEY),
    }
    return jsonify(body), status


def init_app(app: Flask) -> None:
    """Route every ``ApiError``, HTTP error and unexpected exception through ``error_response``."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        return error_response(exc.status_code, exc.code, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        message = exc.description or exc.name
        headers = {}
        if isinstance(exc, WebsocketMismatch):
            message = "WebSocket upgrades are not supported; send plain HTTP requests."
        elif isinstance(exc, ClientDisconnected):
            message = "The request body ended before its declared length; the client may have disconnected."
        elif status == 404:
            message = f"No route for {request.method} {request.path}; see /openapi.json for the API."
        elif status == 405:
            # Werkzeug lists them in set order, which differs between processes.
            headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            message = f"{request.method} is not allowed on {request.path}; allowed: {headers['Allow']}."
        elif status == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            message = f"Request body is over the limit of {limit} bytes."
        body, code = error_response(status, http_code(status), message)
        return body, code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        LOG.exception("unhandled error")
        return error_response(500, http_code(500), INTERNAL_ERROR_MESSAGE)
