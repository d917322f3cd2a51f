"""``service.options``: OPTIONS on the service's routes answers 204 with ``Allow``, never HTML."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("path", "allow"), [
    ("/predict", "OPTIONS, POST"),
    ("/health", "GET, HEAD, OPTIONS"),
    ("/ready", "GET, HEAD, OPTIONS"),
    ("/openapi.json", "GET, HEAD, OPTIONS"),
    ("/v2/models/iris/infer", "OPTIONS, POST"),
    ("/v2/health/ready", "GET, HEAD, OPTIONS"),
])
def test_options_answers_204_with_the_route_s_methods_and_no_body(client, path: str, allow: str) -> None:
    response = client.options(path)

    assert response.status_code == 204
    assert response.headers["Allow"] == allow
    assert "Content-Type" not in response.headers
    assert response.data == b""


def test_options_lists_what_a_405_on_the_same_route_lists(client) -> None:
    assert client.options("/predict").headers["Allow"] == client.get("/predict").headers["Allow"]


def test_options_on_an_unknown_route_is_the_json_404(client) -> None:
    response = client.options("/predictions")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
