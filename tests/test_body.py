"""Reading the request body: with a Content-Length or without one (chunked), within the limit or past it; decoding it as strict JSON."""

from __future__ import annotations

import io
import json

import pytest

from service.body import decode_json, discard_unread_body
from service.errors import InvalidJSON
from tests.conftest import SEED_REQUEST


def chunked_post(client, raw: bytes):
    """POST ``raw`` with no Content-Length, as a server hands over a chunked body it has terminated."""
    return client.post(
        "/predict",
        input_stream=io.BytesIO(raw),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_body_with_its_length_is_predicted(client) -> None:
    raw = json.dumps(SEED_REQUEST).encode()
    response = client.post("/predict", data=raw, content_type="application/json")
    assert response.status_code == 200 and response.get_json()["prediction"] == "setosa"


def test_a_body_without_a_length_is_predicted(client, monkeypatch) -> None:
    from flask import Request

    lengths = []
    original = Request.get_data
    monkeypatch.setattr(Request, "get_data", lambda self, **kw: lengths.append(self.content_length) or original(self, **kw))
    response = chunked_post(client, json.dumps(SEED_REQUEST).encode())
    assert lengths == [None], "the body was not read as a body of unknown length"
    assert response.status_code == 200 and response.get_json()["prediction"] == "setosa"


def test_a_body_without_a_length_exactly_at_the_limit_is_read_whole(client, app) -> None:
    row = json.dumps(SEED_REQUEST)
    padding = app.config["MAX_CONTENT_LENGTH"] - len(row)
    raw = row.encode() + b" " * padding
    assert len(raw) == app.config["MAX_CONTENT_LENGTH"]
    assert chunked_post(client, raw).status_code == 200


def test_a_body_without_a_length_past_the_limit_is_413(client, app) -> None:
    raw = json.dumps({"instances": [SEED_REQUEST] * 500}).encode()
    assert len(raw) > app.config["MAX_CONTENT_LENGTH"]
    response = chunked_post(client, raw)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


def test_a_declared_length_past_the_limit_is_413_before_reading(client, app) -> None:
    raw = json.dumps({"instances": [SEED_REQUEST] * 500}).encode()
    response = client.post("/predict", data=raw, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


def test_discard_unread_body_reads_what_is_left_of_a_terminated_input() -> None:
    environ = {"wsgi.input": io.BytesIO(b"x" * 1000), "wsgi.input_terminated": True}

    assert discard_unread_body(environ) == 1000
    assert environ["wsgi.input"].read() == b""


def test_discard_unread_body_stops_at_its_byte_cap() -> None:
    environ = {"wsgi.input": io.BytesIO(b"x" * 1000), "wsgi.input_terminated": True}

    assert discard_unread_body(environ, max_bytes=300) == 300
    assert len(environ["wsgi.input"].read()) == 700


def test_discard_unread_body_leaves_an_input_that_may_not_end_with_the_body_alone() -> None:
    # Without wsgi.input_terminated a read past the body could wait for the next request.
    environ = {"wsgi.input": io.BytesIO(b"x" * 1000)}

    assert discard_unread_body(environ) == 0
    assert len(environ["wsgi.input"].read()) == 1000


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
     {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}),
    (b'{"a": 1, "b": -0, "c": 1E5, "d": -0.0, "e": 1e-400}', {"a": 1, "b": 0, "c": 100000.0, "d": -0.0, "e": 0.0}),
    # Integers past 64 bits stay integers, as json reads them.
    (b'{"a": 99999999999999999999999}', {"a": 99999999999999999999999}),
    (b'{"a:b": 1, "c": 2}', {"a:b": 1, "c": 2}),
    (b' {"a": 1.5} \n', {"a": 1.5}),
    (b'{"a": [1, 2], "b": {"c": 3}}', {"a": [1, 2], "b": {"c": 3}}),
])
def test_a_decoded_body_has_the_values_and_types_json_gives(raw: bytes, expected: dict) -> None:
    decoded = decode_json(raw)
    assert decoded == expected
    assert list(decoded) == list(expected)
    assert [type(value) for value in decoded.values()] == [type(value) for value in expected.values()]


@pytest.mark.parametrize(("raw", "reason"), [
    (b'{"a": 1, "a": 2}', "more than once"),
    (b'{"a": 1e400}', "out of range"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'\xef\xbb\xbf{"a": 1}', "byte order mark"),
    (b'{"a": 1}{"b": 2}', "Extra data"),
])
def test_a_flat_object_of_numbers_is_held_to_the_strict_rules(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidJSON, match=reason):
        decode_json(raw)
