"""Gunicorn's own HTTP errors in the API's error shapes instead of an HTML page.

Gunicorn answers requests it cannot parse (a bad request line, more than
``limit_request_fields`` headers, a URI over ``limit_request_line``, a bad
``Transfer-Encoding``) before the app sees them, by calling
``gunicorn.util.write_error(sock, status_int, reason, mesg)`` from
``Worker.handle_error``, which writes an HTML page and has no setting to change
it (gunicorn/workers/base.py). Nginx passes such answers through, so without
this a client of the stack would get HTML for, e.g., 101 headers.

``install()`` (called from ``service/gunicorn.conf.py``, in the master, before
workers fork) swaps that one function for ``write_json_error``, and keeps the
path of a request whose request line Gunicorn parsed before failing on its
headers or body framing (``PathKeepingRequest``). ``answer_in_path_shape(worker)``
(the ``post_worker_init`` hook) makes each worker answer in the shape the app
registered for that path (``service.errors.add_error_shape``): ``/v2`` paths in the
Open Inference Protocol's ``{"error": "<message>"}``. Where Gunicorn could not
read the path (a request line it could not parse, or one over
``limit_request_line``), the answer is the API's envelope.
"""

from __future__ import annotations

import json
import socket
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.http.errors import ParseException
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser

from service.errors import INTERNAL_ERROR_MESSAGE, ErrorShape, http_code, shape_for

# The shape of the error the current thread's handle_error is writing; None for the envelope.
_ERROR_SHAPE: ContextVar[ErrorShape | None] = ContextVar("error_shape", default=None)
# Set on a parse error raised after the request line was read: the request's path.
PATH_ATTRIBUTE = "request_path"


def standard_reason(status: int, reason: str) -> str:
    """The reason phrase RFC 9110 gives ``status``; Gunicorn passes "Bad Request" with its 501."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return reason


def error_document(status: int, reason: str, message: str, shape: ErrorShape | None = None) -> bytes:
    """The full HTTP/1.1 answer (head and JSON body) for one of Gunicorn's errors.

    The body is ``shape(message)`` when given, else the API's envelope, whose
    ``request_id`` is null: no request was read, so there is no id to echo. The
    connection is closed afterwards, as Gunicorn does.
    """
    message = message or INTERNAL_ERROR_MESSAGE
    document: dict[str, Any] = shape(message) if shape is not None else {
        "error": {"status": status, "code": http_code(status), "message": message, "fields": {}},
        "request_id": None,
    }
    body = json.dumps(document).encode()
    head = (f"HTTP/1.1 {status} {standard_reason(status, reason)}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error``: same arguments, a JSON answer in the path's shape."""
    util.write_nonblock(sock, error_document(status_int, reason, mesg, _ERROR_SHAPE.get()))


class PathKeepingRequest(Request):
    """Gunicorn's request parser, which names the path on a parse error raised after the request line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except ParseException as exc:
            if self.path is not None:
                setattr(exc, PATH_ATTRIBUTE, self.path)
            raise


def answer_in_path_shape(worker: Any) -> None:
    """Make ``worker`` (a Gunicorn worker with its app loaded) write its errors in the shape its app
    registered for the request's path, where Gunicorn read one."""
    app = worker.wsgi
    handle_error = worker.handle_error

    def handle_error_in_path_shape(req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        path = getattr(req, "path", None) or getattr(exc, PATH_ATTRIBUTE, None)
        token = _ERROR_SHAPE.set(shape_for(app, path) if path is not None else None)
        try:
            handle_error(req, client, addr, exc)
        finally:
            _ERROR_SHAPE.reset(token)

    worker.handle_error = handle_error_in_path_shape


def install() -> None:
    """Make every Gunicorn worker class answer its own errors with ``write_json_error``, and keep paths."""
    util.write_error = write_json_error
    RequestParser.mesg_class = PathKeepingRequest
