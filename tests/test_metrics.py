"""``predictions_total`` counts every prediction under the class it predicted."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.conftest import SEED_REQUEST, VERSICOLOR, VIRGINICA


def predictions_total() -> dict[str, float]:
    return {name: REGISTRY.get_sample_value("predictions_total", {"class_name": name}) or 0.0
            for name in ("setosa", "versicolor", "virginica")}


def test_a_batch_counts_each_prediction_under_its_class(client) -> None:
    before = predictions_total()
    rows = [SEED_REQUEST, VIRGINICA, SEED_REQUEST, VERSICOLOR, SEED_REQUEST]
    assert client.post("/predict", json={"instances": rows}).status_code == 200
    assert client.post("/predict", json=VIRGINICA).status_code == 200
    after = predictions_total()
    assert {name: after[name] - before[name] for name in after} == {"setosa": 3, "versicolor": 1, "virginica": 2}


def test_a_refused_request_counts_nothing(client) -> None:
    before = predictions_total()
    assert client.post("/predict", json={"instances": [SEED_REQUEST, {**SEED_REQUEST, "petal_width": "x"}]}).status_code == 400
    assert predictions_total() == before


def test_an_invented_method_is_counted_as_other_not_as_a_new_series(client) -> None:
    labels = {"route": "unmatched", "status": "405"}
    before = REGISTRY.get_sample_value("http_requests_total", {**labels, "method": "other"}) or 0.0
    client.open("/health", method="ZZBA")
    client.open("/predict", method="QWERTY")
    after = REGISTRY.get_sample_value("http_requests_total", {**labels, "method": "other"}) or 0.0
    assert after - before == 2
    assert REGISTRY.get_sample_value("http_requests_total", {**labels, "method": "ZZBA"}) is None


def test_the_exposition_names_its_format_once(client) -> None:
    content_type = client.get("/metrics").headers["Content-Type"]
    assert content_type.startswith("text/plain; version=")
    assert content_type.count("charset=") == 1
