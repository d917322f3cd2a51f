"""Gunicorn's own HTTP errors in the API's error shape instead of an HTML page.

Gunicorn answers requests it cannot parse (a bad request line, more than
``limit_request_fields`` headers, a URI over ``limit_request_line``, a bad
``Transfer-Encoding``) before the app sees them, by calling
``gunicorn.util.write_error(sock, status_int, reason, mesg)``, which writes an
HTML page and has no setting to change it (gunicorn/workers/base.py,
``Worker.handle_error``). Nginx passes such answers through, so without this a
client of the stack would get HTML for, e.g., 101 headers. ``install()`` swaps
that one function for ``write_json_error``; it is called from
``service/gunicorn.conf.py``, in the master, before workers fork.
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus

from gunicorn import util

from service.errors import INTERNAL_ERROR_MESSAGE, http_code


def standard_reason(status: int, reason: str) -> str:
    """The reason phrase RFC 9110 gives ``status``; Gunicorn passes "Bad Request" with its 501."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return reason


def error_document(status: int, reason: str, message: str) -> bytes:
    """The full HTTP/1.1 answer (head and JSON body) for one of Gunicorn's errors.

    ``request_id`` is null: no request was read, so there is no id to echo, and
    the connection is closed afterwards, as Gunicorn does.
    """
    body = json.dumps({
        "error": {"status": status, "code": http_code(status),
                  "message": message or INTERNAL_ERROR_MESSAGE, "fields": {}},
        "request_id": None,
    }).encode()
    head = (f"HTTP/1.1 {status} {standard_reason(status, reason)}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error``: same arguments, a JSON answer."""
    util.write_nonblock(sock, error_document(status_int, reason, mesg))


def install() -> None:
    """Make every Gunicorn worker class answer its own errors with ``write_json_error``."""
    util.write_error = write_json_error
