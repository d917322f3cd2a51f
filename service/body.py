"""Read a request body as strict JSON.

Python's ``json`` accepts things a prediction API must refuse: ``NaN`` and
``Infinity`` literals, duplicate keys (the last one silently wins), numbers
that overflow to infinity. Every refusal is an ``ApiError`` with a 4xx status.
"""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask, Request, Response, request as current_request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.errors import ApiError, InvalidJSON, UnsupportedMediaType

JSON_MIMETYPE = "application/json"
UTF8_BOM = b"\xef\xbb\xbf"
# JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1).
JSON_CHARSETS = {"utf-8", "utf8"}
# How much of an unread body a refusal reads and drops before the connection
# closes (``discard_unread_body``): a batch of 10^6 rows is about 84 MB, which
# a client on a 100 Mbit/s link sends in about 7 s.
DISCARD_MAX_BYTES = 128 * 1024 * 1024
DISCARD_MAX_S = 10.0
DISCARD_CHUNK_BYTES = 256 * 1024


def _reject_constant(name: str) -> float:
    raise InvalidJSON(f"request body is not valid JSON: {name} is not a JSON number")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise InvalidJSON(f"request body has the key {duplicate!r} more than once", {duplicate: ["Duplicate key."]})
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidJSON(f"request body has a number out of range: {text[:40]}")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_float=_finite_float
)


# Past this a float orjson returns may have been an integer literal beyond 64 bits,
# which ``json`` keeps as an int.
_FLOAT_FROM_INTEGER_MIN = 2.0 ** 63


def _flat_numbers(raw: bytes) -> dict[str, int | float] | None:
    """``raw`` decoded by orjson (C, a fifth of the strict decoder's time on a single flower)
    when it is a JSON object whose values are all numbers and the strict decoder would
    return the same, else None.

    orjson itself refuses what the strict decoder refuses here (NaN and Infinity, numbers
    out of range, a byte order mark, invalid UTF-8) but keeps the last of a repeated key:
    each pair has one ``:`` outside its strings, so a text with as many ``:`` as the
    object has keys repeats none (a key that contains one is left to the strict decoder).
    A float of 2**63 or more may have been read from an integer too large for 64 bits,
    which the strict decoder keeps as an int: left to it too.
    """
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(decoded) is not dict or raw.count(b":") != len(decoded):
        return None
    for value in decoded.values():
        kind = type(value)
        if kind is float:
            if not -_FLOAT_FROM_INTEGER_MIN < value < _FLOAT_FROM_INTEGER_MIN:
                return None
        elif kind is not int:
            return None
    return decoded


def decode_json(raw: bytes) -> Any:
    """Decode ``raw`` as one strict JSON document; raise ``InvalidJSON`` saying why not.

    A flat object of numbers, what a single flower is, takes orjson (``_flat_numbers``);
    any other text the strict decoder, whose refusals name the fault."""
    flat = _flat_numbers(raw)
    if flat is not None:
        return flat
    if not raw.strip():
        raise InvalidJSON("request body is empty; send a JSON object")
    if raw.startswith(UTF8_BOM):
        raise InvalidJSON("request body starts with a byte order mark; JSON text must not (RFC 8259, section 8.1)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" ("Unterminated string starting at").
        reason = exc.msg.removesuffix(" at")
        raise InvalidJSON(f"request body is not valid JSON: {reason} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidJSON("request body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        # "Exceeds the limit (4300 digits) ...: value has 4301 digits; use sys.set_int_max_str_digits() ..."
        reason = str(exc).split(";")[0]
        raise InvalidJSON(f"request body has a number that cannot be read: {reason}") from None


def read_body(request: Request) -> bytes:
    """The request body; werkzeug's ``RequestEntityTooLarge`` (413) past the body limit.

    A body whose Content-Length is within the limit is read from the server's
    input in one call of exactly that many bytes, as PEP 3333 allows; that
    skips werkzeug's limit-enforcing stream wrapper, which costs about 15 µs of
    a 400 µs request under Gunicorn. Other bodies (chunked, or declared over
    the limit) take werkzeug's way, which refuses a declared length over the
    limit but stops reading a chunked body at the limit without a word
    (``LimitedStream.readall``): one more byte from the server's input tells a
    body that ends there from one that goes on.
    """
    length = request.content_length
    limit = request.max_content_length
    try:
        if length is not None and (limit is None or length <= limit):
            data = request.environ["wsgi.input"].read(length)
            if len(data) < length:
                raise ApiError(f"request body ended after {len(data)} of the {length} bytes its Content-Length declared")
            return data
        data = request.get_data(cache=False)
        if limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
        return data
    except (HTTPException, ApiError):
        raise
    except Exception as exc:  # the server's own parse errors (e.g. Gunicorn's InvalidChunkSize) share no base class
        raise ApiError(f"request body could not be read: {type(exc).__name__} (malformed chunked encoding?)") from None


def json_body(request: Request, *, allow_missing_type: bool = False) -> Any:
    """The request's JSON document.

    415 unless the content type is JSON (or absent, with ``allow_missing_type``)
    and the body is not compressed; 413 past the body limit; 400 for a body
    the server could not read or that is not strict JSON.
    """
    environ = request.environ
    if environ.get("CONTENT_TYPE") == JSON_MIMETYPE and "HTTP_CONTENT_ENCODING" not in environ:
        # What nearly every client sends, accepted without parsing the header
        # (werkzeug's parse_options_header costs a few µs a request).
        return decode_json(read_body(request))
    encoding = request.headers.get("Content-Encoding", "identity")
    if encoding.lower() != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not supported: send the JSON uncompressed")
    mimetype = request.mimetype
    if not (mimetype == JSON_MIMETYPE or mimetype.endswith("+json") or (allow_missing_type and not mimetype)):
        raise UnsupportedMediaType(f"Content-Type must be {JSON_MIMETYPE}, got {mimetype or 'none'}")
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower() not in JSON_CHARSETS:
        raise UnsupportedMediaType(f"Content-Type charset must be utf-8, got {charset}")
    return decode_json(read_body(request))


def discard_unread_body(environ: Mapping[str, Any], max_bytes: int = DISCARD_MAX_BYTES,
                        max_s: float = DISCARD_MAX_S) -> int:
    """Read and drop what is left of the request body; the bytes dropped.

    A client that sends its whole body before reading the answer (Python's
    http.client, most load generators) gets a broken pipe instead of the answer
    when the server closes the connection while the body is still coming: the
    kernel answers the unread bytes with a reset. Reading them first lets such a
    client read a refusal (e.g. a 413 for a 20 MB body sent straight to
    Gunicorn). Bounded: at most ``max_bytes`` within ``max_s`` seconds, each
    read waiting at most the time left (through Gunicorn's socket); past that,
    Gunicorn closes the connection. Only where the server ends the input stream
    at the body's end (``wsgi.input_terminated``, which Gunicorn sets), so that
    a read never waits for the next request.
    """
    if not environ.get("wsgi.input_terminated"):
        return 0
    stream = environ["wsgi.input"]
    sock = environ.get("gunicorn.socket")
    timed = isinstance(sock, socket.socket)
    previous_timeout = sock.gettimeout() if timed else None
    deadline = time.monotonic() + max_s
    dropped = 0
    try:
        while dropped < max_bytes:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                break
            if timed:
                sock.settimeout(remaining_s)
            chunk = stream.read(min(DISCARD_CHUNK_BYTES, max_bytes - dropped))
            if not chunk:
                break
            dropped += len(chunk)
    except Exception:  # a timeout, a reset, or the server's parse errors (no common base class): stop reading
        pass
    finally:
        if timed:
            sock.settimeout(previous_timeout)
    return dropped


def init_app(app: Flask) -> None:
    """After every error answer is sent, drop what the app left unread of the request body
    (``discard_unread_body``), so that the client can read the answer."""

    @app.after_request
    def _discard_after_errors(response: Response) -> Response:
        if response.status_code >= 400:
            # call_on_close runs once the server has sent the answer: a client that reads
            # while it sends (curl) has it at once; one that sends first reads it afterwards.
            environ = current_request.environ
            response.call_on_close(lambda: discard_unread_body(environ))
        return response
