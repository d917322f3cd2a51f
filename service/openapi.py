"""``GET /openapi.json``: an OpenAPI 3.0 document generated from the marshmallow schemas,
which follow the served artifact's contract (``training.fields``); built once per app."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from service import schemas, v2_schemas
from service.predict import Inputs
from service.v2_tensors import BATCH_DIMENSION, output_metadata
from training.fields import Contract

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.0.3"
API_TITLE = "api-inference"
API_VERSION = "1.0.0"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "ErrorResponse"}}}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _protocol_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "ProtocolErrorResponse"}}}


def _output_description(tensor: dict[str, Any]) -> str:
    """One entry of ``output_metadata`` in words: "label (BYTES [N])",
    "probabilities (FP64 or FP32 [N, number of classes])"."""
    datatypes = [tensor["datatype"]]
    dimensions = ["N" if size == BATCH_DIMENSION else str(size) for size in tensor["shape"]]
    if tensor["name"] == "probabilities":
        # Any float datatype on request (``probabilities_datatype``); one column per class, whatever the model.
        datatypes += [datatype for datatype in v2_schemas.FLOAT_DATATYPES if datatype != tensor["datatype"]]
        dimensions[1] = "number of classes"
    return f"{tensor['name']} ({' or '.join(datatypes)} [{', '.join(dimensions)}])"


def _infer_description(max_batch_size: int, contract: Contract) -> str:
    names = contract.feature_names
    return (
        f"Inputs: one [N, {len(names)}] tensor (any name), or one [N] tensor for each of {', '.join(names)}; "
        f"N from 1 to {max_batch_size}; each value finite and within its feature's range (the Features schema). "
        f"Outputs: {', '.join(_output_description(tensor) for tensor in output_metadata(contract))}."
    )


def _add_v2_paths(spec: APISpec, max_batch_size: int, contract: Contract) -> None:
    """The Open Inference Protocol routes (``service/v2.py``), each model route with and without a version."""
    for name in ("InferenceRequestSchema", "InferenceResponse", "ServerMetadataResponse", "ServerLiveResponse",
                 "ServerReadyResponse", "ModelMetadataResponse", "ModelReadyResponse", "ProtocolErrorResponse"):
        spec.components.schema(name.removesuffix("Schema"), schema=getattr(v2_schemas, name))
    tag = ["Open Inference Protocol (V2)"]
    spec.path(path="/v2", operations={"get": {"tags": tag, "summary": "Server metadata", "responses": {
        "200": _json("ServerMetadataResponse", "Name, version, extensions")}}})
    spec.path(path="/v2/health/live", operations={"get": {"tags": tag, "summary": "Server liveness", "responses": {
        "200": _json("ServerLiveResponse", "Live")}}})
    spec.path(path="/v2/health/ready", operations={"get": {"tags": tag, "summary": "Server readiness", "responses": {
        "200": _json("ServerReadyResponse", "Ready"), "503": _json("ServerReadyResponse", "Not ready")}}})
    unknown_model = _protocol_error("No such model, or no such version of it")
    for base in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"):
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in ("model_name", "model_version") if f"{{{name}}}" in base]
        spec.path(path=base, parameters=parameters, operations={"get": {"tags": tag, "summary": "Model metadata", "responses": {
            "200": _json("ModelMetadataResponse", "Name, versions, platform, input and output tensors"), "404": unknown_model}}})
        spec.path(path=f"{base}/ready", parameters=parameters, operations={"get": {"tags": tag, "summary": "Model readiness", "responses": {
            "200": _json("ModelReadyResponse", "Ready"), "503": _json("ModelReadyResponse", "Not ready"), "404": unknown_model}}})
        spec.path(path=f"{base}/infer", parameters=parameters, operations={"post": {
            "tags": tag,
            "summary": "Inference",
            "description": _infer_description(max_batch_size, contract),
            "requestBody": {"required": True, "content": {"application/json": {"schema": "InferenceRequest"}}},
            "responses": {
                "200": _json("InferenceResponse", "The requested outputs"),
                "400": _protocol_error("Malformed JSON, or a tensor, datatype, shape, value or output the model cannot take"),
                "404": unknown_model,
                "413": _protocol_error("Body or batch over the limit"),
                "415": _protocol_error("Content-Type is neither application/json nor absent, or the body is compressed"),
            },
        }})


def build_spec(max_batch_size: int, contract: Contract, inputs: Inputs) -> dict[str, Any]:
    """The OpenAPI document as a dict, for the model ``contract`` describes, whose requests
    ``inputs`` decode, with the batch limit the app runs with."""
    spec = APISpec(title=API_TITLE, version=API_VERSION, openapi_version=OPENAPI_VERSION, plugins=[MarshmallowPlugin()])
    single, batch = schemas.response_schemas(contract)
    for name, schema in (("Features", inputs.features_schema), ("Batch", inputs.batch_schema),
                         ("SinglePredictionResponse", single), ("BatchPredictionResponse", batch),
                         ("ErrorResponse", schemas.ErrorResponse)):
        spec.components.schema(name, schema=schema)

    spec.path(path="/predict", operations={"post": {
        "summary": f"Predict the {contract.target} of one {contract.row_name}, or of a batch under `instances`.",
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
    _add_v2_paths(spec, max_batch_size, contract)
    document = spec.to_dict()
    document["components"]["schemas"]["Batch"]["properties"]["instances"]["maxItems"] = max_batch_size
    return document


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3 document."""
    return jsonify(current_app.extensions["openapi"])
