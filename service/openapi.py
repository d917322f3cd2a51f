"""``GET /openapi.json``: an OpenAPI 3.0 document generated from the marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from service import schemas

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.0.3"
API_TITLE = "api-inference"
API_VERSION = "1.0.0"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "ErrorResponse"}}}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def build_spec(max_batch_size: int) -> dict[str, Any]:
    """The OpenAPI document as a dict, with the batch limit the app runs with."""
    spec = APISpec(title=API_TITLE, version=API_VERSION, openapi_version=OPENAPI_VERSION, plugins=[MarshmallowPlugin()])
    for name in ("FeaturesSchema", "BatchSchema", "SinglePredictionResponse", "BatchPredictionResponse", "ErrorResponse"):
        spec.components.schema(name.removesuffix("Schema"), schema=getattr(schemas, name))

    spec.path(path="/predict", operations={"post": {
        "summary": "Predict the species of one flower, or of a batch under `instances`.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [{"$ref": "#/components/schemas/Features"}, {"$ref": "#/components/schemas/Batch"}],
        }}}},
        "responses": {
            "200": {"description": "Prediction(s)", "content": {"application/json": {"schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/SinglePredictionResponse"},
                    {"$ref": "#/components/schemas/BatchPredictionResponse"},
                ],
            }}}},
            "400": _error("Malformed JSON or a field that failed validation"),
            "413": _error("Body or batch over the limit"),
            "415": _error("Content-Type is not application/json"),
        },
    }})
    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    spec.path(path="/health", operations={"get": {"summary": "Liveness", "responses": {"200": _json(status, "Alive")}}})
    spec.path(path="/ready", operations={"get": {"summary": "Readiness: model loaded and self-test passed", "responses": {
        "200": _json(status, "Ready"), "503": _error("Not ready, with the reason")}}})
    spec.path(path="/model", operations={"get": {"summary": "Model metadata", "responses": {
        "200": _json({"type": "object"}, "Metadata written by training")}}})
    spec.path(path="/metrics", operations={"get": {"summary": "Prometheus metrics", "responses": {
        "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
    document = spec.to_dict()
    document["components"]["schemas"]["Batch"]["properties"]["instances"]["maxItems"] = max_batch_size
    return document


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3 document."""
    return jsonify(current_app.extensions["openapi"])
