"""Marshmallow schemas for the Open Inference Protocol (KServe V2) REST API.

The request schemas check the structure of ``$inference_request`` (which keys,
which JSON types); what the tensors mean for this model (their shapes, their
data, the feature matrix) is ``service.v2_tensors``' job. The response
schemas describe the protocol's answers for the OpenAPI document.

Source: the Open Inference Protocol REST specification,
https://github.com/kserve/open-inference-protocol (specification/protocol/inference_rest.md),
and the KServe "Predict Protocol - Version 2" it grew from (docs/predict-api/v2/required_api.md):
field names, ``$parameters`` values (string, number or boolean), tensor data types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate

from service.errors import ValidationFailed
from service.schemas import json_type
from service.unknown_fields import load_known

# Element types a request tensor may declare. The measurements are real
# numbers, so FP32 and FP64 are the natural types; integer types are accepted
# as /predict accepts integer lengths. BOOL, BYTES (strings) and FP16 (which
# JSON cannot carry exactly, as the specification notes) are refused.
FLOAT_DATATYPES = ("FP32", "FP64")
# Each integer type's [lowest, highest] value: INTn and UINTn are n-bit two's
# complement and unsigned integers (the specification's "Tensor Data Types").
INTEGER_RANGES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2 ** bits - 1) for bits in (8, 16, 32, 64)},
}
INTEGER_DATATYPES = tuple(INTEGER_RANGES)
INPUT_DATATYPES = FLOAT_DATATYPES + INTEGER_DATATYPES

# Request parameters that ask for a Triton extension this server does not
# implement; answering anyway would silently return something else than asked.
UNSUPPORTED_PARAMETERS = {
    "binary_data_size": "the binary tensor data extension",
    "shared_memory_region": "the shared memory extension",
    "classification": "the classification extension",
}


class Dimension(fields.Integer):
    """A tensor dimension: a JSON integer (not a float or a boolean), 0 or more."""

    default_error_messages = {"invalid": "Not an integer: got {type}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=0), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", type=json_type(value))
        return value


class Parameters(fields.Dict):
    """``$parameters``: an object whose values are JSON strings, numbers or booleans.

    Checked here rather than by ``Dict``'s value field, which names a bad value
    ``parameters.<name>.value`` and refuses null before our message could say what is allowed.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), values=fields.Raw(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        parameters = dict(value)
        problems = {
            name: [f"A parameter is a string, number or boolean: got {json_type(parameter)}."]
            for name, parameter in parameters.items() if parameter is None or isinstance(parameter, (dict, list))
        }
        if problems:
            raise ValidationError(problems)
        return parameters


def _refuse_unsupported(data: Any) -> None:
    """Refuse an object whose ``parameters`` ask for an extension, before any other check of it:
    whatever else is wrong with it, the answer would not be what was asked."""
    parameters = data.get("parameters") if isinstance(data, dict) else None
    if not isinstance(parameters, dict):
        return
    for name, extension in UNSUPPORTED_PARAMETERS.items():
        if name in parameters:
            raise ValidationError(f"{name!r} asks for {extension}, which this server does not implement.", "parameters")


@dataclass(frozen=True)
class InputTensor:
    """One ``$request_input``: ``data`` as sent (flat or nested), checked against ``shape`` later."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: list[Any]
    parameters: dict[str, Any] = field(default_factory=dict)


class RequestInputSchema(Schema):
    """``$request_input``: name, shape, datatype, data, optional parameters."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1))
    shape = fields.List(Dimension(), required=True, metadata={"description": "One integer per dimension."})
    datatype = fields.String(
        required=True,
        validate=validate.OneOf(INPUT_DATATYPES, error="Must be one of {choices}: got {input}."),
    )
    parameters = Parameters()
    data = fields.Raw(
        required=True,
        metadata={"description": "Tensor elements in row-major order, flat or nested as the shape.",
                  "type": "array", "items": {}},
    )

    @pre_load
    def _check_parameters(self, data: Any, **kwargs: Any) -> Any:
        _refuse_unsupported(data)
        return data

    @post_load
    def _make_tensor(self, loaded: dict[str, Any], **kwargs: Any) -> InputTensor:
        if not isinstance(loaded["data"], list):
            raise ValidationError(f"Must be an array: got {json_type(loaded['data'])}.", "data")
        return InputTensor(
            name=loaded["name"], datatype=loaded["datatype"], shape=tuple(loaded["shape"]),
            data=loaded["data"], parameters=loaded.get("parameters", {}),
        )


class RequestOutputSchema(Schema):
    """``$request_output``: the name of an output to return, optional parameters."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    parameters = Parameters()

    @pre_load
    def _check_parameters(self, data: Any, **kwargs: Any) -> Any:
        _refuse_unsupported(data)
        return data


class InferenceRequestSchema(Schema):
    """``$inference_request``: optional id and parameters, input tensors, optional requested outputs."""

    class Meta:
        unknown = RAISE

    id = fields.String(metadata={"description": "Echoed in the response."})
    parameters = Parameters(metadata={"description": (
        "Server-specific: `probabilities_datatype` (FP64, the default, or FP32). "
        "Others, such as tritonclient's `binary_data_output`, are accepted and ignored: outputs are always JSON."
    )})
    inputs = fields.List(
        fields.Nested(RequestInputSchema), required=True,
        validate=validate.Length(min=1, error="Must hold at least one input tensor."),
    )
    outputs = fields.List(fields.Nested(RequestOutputSchema), metadata={
        "description": "The outputs to return, in this order; all of them when absent or empty.",
    })

    @post_load
    def _check_parameters(self, loaded: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        datatype = loaded.get("parameters", {}).get("probabilities_datatype", "FP64")
        if datatype not in FLOAT_DATATYPES:
            raise ValidationError(f"probabilities_datatype must be FP64 or FP32: got {datatype!r}.", "parameters")
        return loaded


INFERENCE_REQUEST = InferenceRequestSchema()


def load_inference_request(body: Any) -> dict[str, Any]:
    """Load a decoded ``$inference_request``; ``inputs`` become ``InputTensor``s.

    Raises ``ValidationFailed`` (400) naming each bad field, e.g. ``inputs[0].datatype``.
    """
    if not isinstance(body, dict):
        raise ValidationFailed(f"request body must be a JSON object, got {json_type(body)}", {"body": ["Not an object."]})
    return load_known(INFERENCE_REQUEST, body)


# Responses, for the OpenAPI document.

class ServerMetadataResponse(Schema):
    name = fields.String(required=True, metadata={"example": "api-inference"})
    version = fields.String(required=True)
    extensions = fields.List(fields.String(), required=True)


class ServerLiveResponse(Schema):
    live = fields.Boolean(required=True)


class ServerReadyResponse(Schema):
    ready = fields.Boolean(required=True)


class ModelReadyResponse(Schema):
    name = fields.String(required=True, metadata={"example": "iris"})
    ready = fields.Boolean(required=True)


class MetadataTensor(Schema):
    name = fields.String(required=True)
    datatype = fields.String(required=True)
    shape = fields.List(fields.Integer(), required=True, metadata={"description": "-1 marks the batch dimension."})


class ModelMetadataResponse(Schema):
    name = fields.String(required=True, metadata={"example": "iris"})
    versions = fields.List(fields.String(), required=True)
    platform = fields.String(required=True, metadata={"example": "sklearn_joblib"})
    inputs = fields.List(fields.Nested(MetadataTensor), required=True)
    outputs = fields.List(fields.Nested(MetadataTensor), required=True)


class ResponseOutput(Schema):
    name = fields.String(required=True)
    datatype = fields.String(required=True)
    shape = fields.List(fields.Integer(), required=True)
    data = fields.List(fields.Raw(), required=True, metadata={"description": "Flat, row-major."})


class InferenceResponse(Schema):
    model_name = fields.String(required=True)
    model_version = fields.String(required=True)
    id = fields.String(metadata={"description": "The request's id, when it had one."})
    outputs = fields.List(fields.Nested(ResponseOutput), required=True)


class ProtocolErrorResponse(Schema):
    error = fields.String(required=True)
