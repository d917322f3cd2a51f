"""Every kind of bad input gets a 4xx JSON error in one shape naming the field and the problem."""

from __future__ import annotations

import hashlib
import json

import pytest

from service.validation import out_of_range_message
from tests.conftest import BAD_BODIES, SEED_REQUEST
from training.data import FEATURES


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"status", "code", "message", "fields"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body["error"]


@pytest.mark.parametrize(("name", "raw", "status", "code", "field", "words"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_body_gets_a_clear_4xx(client, name, raw, status, code, field, words) -> None:
    error = assert_error_shape(client.post("/predict", data=raw, content_type="application/json"), status, code)
    assert words in error["message"] or any(words in p for ps in error["fields"].values() for p in ps), error
    if field:
        assert field in error["fields"], error
        assert field in error["message"] or field == "body"
    assert client.post("/predict", json=SEED_REQUEST).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_wrong_content_type_is_415(client, content_type) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    error = assert_error_shape(client.post("/predict", data=json.dumps(SEED_REQUEST), **kwargs), 415, "unsupported_media_type")
    assert "application/json" in error["message"]


def test_unknown_route_is_404(client) -> None:
    error = assert_error_shape(client.get("/predictions"), 404, "not_found")
    assert "/predictions" in error["message"]


def test_wrong_method_is_405_with_allow(client) -> None:
    response = client.get("/predict")
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert error["message"] == "GET is not allowed on /predict; allowed: OPTIONS, POST."


@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_a_charset_other_than_utf8_is_415(client, charset: str) -> None:
    body = json.dumps(SEED_REQUEST).encode(charset)
    error = assert_error_shape(client.post("/predict", data=body, content_type=f"application/json; charset={charset}"),
                               415, "unsupported_media_type")
    assert error["message"] == f"Content-Type charset must be utf-8, got {charset}"
    assert client.post("/predict", data=json.dumps(SEED_REQUEST), content_type="application/json; charset=UTF-8").status_code == 200


def test_a_websocket_upgrade_is_a_clear_400(client) -> None:
    response = client.get("/health", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    error = assert_error_shape(response, 400, "bad_request")
    assert "WebSocket" in error["message"]


def test_an_error_never_echoes_a_huge_name_whole(client) -> None:
    key = "k" * 10_000  # the test app's body limit is 16 KiB
    response = client.post("/predict", data=json.dumps({**SEED_REQUEST, key: 1}), content_type="application/json")
    error = assert_error_shape(response, 400, "validation_error")
    assert len(response.get_data()) < 1_000
    (field,) = error["fields"]
    assert field == "k" * 100 + f"... (10000 characters, sha256 {hashlib.sha256(key.encode()).hexdigest()[:12]})"
    assert error["message"] == f"{field}: Unknown field."


def test_long_names_that_share_their_start_stay_distinct_fields(client) -> None:
    keys = ["k" * 497 + f"{index:03d}" for index in range(25)]  # 25 x 500 characters: within the 16 KiB limit
    response = client.post("/predict", data=json.dumps({**SEED_REQUEST, **dict.fromkeys(keys, 1)}),
                           content_type="application/json")
    error = assert_error_shape(response, 400, "validation_error")
    clipped = {"k" * 100 + f"... (500 characters, sha256 {hashlib.sha256(key.encode()).hexdigest()[:12]})"
               for key in keys}
    assert len(error["fields"]) == 20 and set(error["fields"]) <= clipped


def test_a_sane_request_id_is_echoed_and_a_bad_one_replaced(client) -> None:
    assert client.post("/predict", json=SEED_REQUEST, headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/health", headers={"X-Request-ID": "a b\tc" + "x" * 300}).headers["X-Request-ID"]
    assert len(replaced) == 32 and " " not in replaced


def test_an_unexpected_failure_is_a_json_500_not_a_crash(client, app, monkeypatch) -> None:
    def explode(X):
        raise RuntimeError("boom")

    for way in ("predict_proba", "predict_proba_row"):  # a batch, and a single row
        monkeypatch.setattr(app.extensions["model"], way, explode)
    error = assert_error_shape(client.post("/predict", json=SEED_REQUEST), 500, "internal_error")
    assert "boom" not in error["message"]


def test_compressed_body_is_415(client) -> None:
    import gzip

    response = client.post(
        "/predict", data=gzip.compress(json.dumps(SEED_REQUEST).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    error = assert_error_shape(response, 415, "unsupported_media_type")
    assert "gzip" in error["message"]


def test_an_error_answer_stays_small_however_many_fields_are_wrong(client) -> None:
    body = {**SEED_REQUEST, **{f"extra_{i}": 1 for i in range(100)}}
    error = assert_error_shape(client.post("/predict", json=body), 400, "validation_error")
    assert len(error["fields"]) == 20
    assert error["message"].endswith("and 80 more field(s)")


def test_a_value_out_of_range_is_named_once_the_body_is_well_formed(client) -> None:
    """Types and required fields are checked first; ranges only on a body that passed (docs/api.md, Errors)."""
    both_kinds = {**SEED_REQUEST, "sepal_length": -1.0, "petal_width": "x"}
    error = assert_error_shape(client.post("/predict", json=both_kinds), 400, "validation_error")
    assert error["fields"] == {"petal_width": ["Not a number: got string."]}

    well_formed = {**both_kinds, "petal_width": 40.0}
    error = assert_error_shape(client.post("/predict", json=well_formed), 400, "validation_error")
    limits = {feature.name: out_of_range_message(feature) for feature in FEATURES}
    assert error["fields"] == {"sepal_length": [limits["sepal_length"]], "petal_width": [limits["petal_width"]]}
