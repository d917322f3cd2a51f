"""The Open Inference Protocol (KServe V2) REST API under ``/v2``, beside ``/predict``.

Routes (the specification's, https://github.com/kserve/open-inference-protocol):
``GET /v2`` server metadata, ``GET /v2/health/live``, ``GET /v2/health/ready``,
and for the served model, with or without ``/versions/<model_version>``:
``GET /v2/models/<model_name>`` metadata, ``GET .../ready``, ``POST .../infer``.
The model name is the artifact's ``name`` ("iris" for the default model), its
only version the artifact's ``version``; inputs and outputs follow the
artifact's contract. Tensors are decoded by ``service.v2_tensors`` and pass
the same checks as /predict (``service.validation``, with the app's ``Inputs``).

Every error on a ``/v2`` path, whether raised here or by routing (404, 405)
or by Werkzeug (413), is answered as the protocol's ``{"error": "<message>"}``
with the status and message ``service.errors`` gave it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from service.body import json_body
from service.errors import ApiError, add_error_shape
from service.predict import Inputs, count, json_response
from service.probes import ready_model
from service.model import Model
from service.openapi import API_TITLE, API_VERSION
from service.v2_schemas import load_inference_request
from service.v2_tensors import (
    features_matrix, input_metadata, output_metadata, output_names, output_tensors, requested_outputs,
)

bp = Blueprint("v2", __name__, url_prefix="/v2")

# "<project>_<format>", as the specification's Platforms section names them.
PLATFORM = "sklearn_joblib"
# Sent by clients using Triton's binary tensor data extension, which this server does not implement.
BINARY_DATA_HEADER = "Inference-Header-Content-Length"


class ModelNotFound(ApiError):
    status_code = 404
    code = "not_found"


def _served_model(model_name: str, model_version: str | None) -> Model:
    """The model the URL names; ``ModelNotFound`` (404) for another name or version."""
    model: Model = current_app.extensions["model"]
    if model_name != model.name:
        raise ModelNotFound(f"unknown model {model_name!r}: this server serves {model.name!r}")
    if model_version is not None and model_version != model.version:
        raise ModelNotFound(f"model {model.name!r} has no version {model_version!r}: it has {model.version!r}")
    return model


def _request_json() -> Any:
    """The body as strict JSON. The protocol's body is always JSON, and tritonclient sends
    no Content-Type, so a missing one is accepted; any other than JSON is 415."""
    if BINARY_DATA_HEADER in request.headers:
        raise ApiError(f"binary tensor data ({BINARY_DATA_HEADER}) is not supported: send tensor data as JSON")
    return json_body(request, allow_missing_type=True)


@bp.get("")
def server_metadata() -> ResponseReturnValue:
    """``$metadata_server_response``: name, version, extensions (none)."""
    return jsonify(name=API_TITLE, version=API_VERSION, extensions=[])


@bp.get("/health/live")
def server_live() -> ResponseReturnValue:
    """Liveness: the server answers."""
    return jsonify(live=True)


@bp.get("/health/ready")
def server_ready() -> ResponseReturnValue:
    """Readiness: 200 ``{"ready": true}`` once the model passed its self-test, else 503 ``{"ready": false}``."""
    model: Model = current_app.extensions["model"]
    return jsonify(ready=model.ready), 200 if model.ready else 503


@bp.get("/models/<model_name>")
@bp.get("/models/<model_name>/versions/<model_version>")
def model_metadata(model_name: str, model_version: str | None = None) -> ResponseReturnValue:
    """``$metadata_model_response``: name, versions, platform, input and output tensors."""
    model = _served_model(model_name, model_version)
    return jsonify(
        name=model.name,
        versions=[model.version],
        platform=PLATFORM,
        inputs=input_metadata(len(model.contract.features)),
        outputs=output_metadata(model.contract),
    )


@bp.get("/models/<model_name>/ready")
@bp.get("/models/<model_name>/versions/<model_version>/ready")
def model_ready(model_name: str, model_version: str | None = None) -> ResponseReturnValue:
    """``$ready_model_response``: 200 when the model is ready, 503 when its self-test failed."""
    model = _served_model(model_name, model_version)
    return jsonify(name=model.name, ready=model.ready), 200 if model.ready else 503


@bp.post("/models/<model_name>/infer")
@bp.post("/models/<model_name>/versions/<model_version>/infer")
def infer(model_name: str, model_version: str | None = None) -> ResponseReturnValue:
    """``$inference_response`` for an ``$inference_request``: the requested outputs for every row;
    503 while the model's self-test fails."""
    model = _served_model(model_name, model_version)
    ready_model()
    inference_request = load_inference_request(_request_json())
    inputs: Inputs = current_app.extensions["inputs"]
    X = features_matrix(inference_request["inputs"], current_app.config["MAX_BATCH_SIZE"], inputs.names, inputs.limits,
                        model.contract.row_name)
    names = requested_outputs(inference_request.get("outputs"), output_names(model.contract))
    predictions = model.predict(X)
    count(predictions, model.class_names)
    response: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if "id" in inference_request:
        response["id"] = inference_request["id"]
    datatype = inference_request.get("parameters", {}).get("probabilities_datatype", "FP64")
    response["outputs"] = output_tensors(predictions, model.class_names, names, datatype)
    return json_response(response)


@bp.record_once
def _protocol_error_shape(state: BlueprintSetupState) -> None:
    """Errors on ``/v2`` paths take the protocol's ``{"error": "<message>"}``, with the status and message
    ``service.errors`` gives them: routing's 404 and 405 too, which no blueprint error handler sees."""
    add_error_shape(state.app, bp.url_prefix, lambda message: {"error": message})
