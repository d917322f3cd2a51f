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

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from service.errors import ValidationFailed, flatten_messages, summarise
from service.schemas import json_type

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


class ParameterValue(fields.Raw):
    """A ``$parameter`` value: a JSON string, number or boolean."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, (dict, list)):
            raise ValidationError(f"A parameter is a string, number or boolean: got {json_type(value)}.")
        return value


def _parameters(**kwargs: Any) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=ParameterValue(), **kwargs)


def _refuse_unsupported(parameters: dict[str, Any]) -> None:
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
    parameters = _parameters()
    data = fields.Raw(
        required=True,
        metadata={"description": "Tensor elements in row-major order, flat or nested as the shape.",
                  "type": "array", "items": {}},
    )

    @post_load
    def _make_tensor(self, loaded: dict[str, Any], **kwargs: Any) -> InputTensor:
        if not isinstance(loaded["data"], list):
            raise ValidationError(f"Must be an array: got {json_type(loaded['data'])}.", "data")
        _refuse_unsupported(loaded.get("parameters", {}))
        return InputTensor(
            name=loaded["name"], datatype=loaded["datatype"], shape=tuple(loaded["shape"]),
            data=loaded["data"], parameters=loaded.get("parameters", {}),
        )


class RequestOutputSchema(Schema):
    """``$request_output``: the name of an output to return, optional parameters."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    parameters = _parameters()

    @post_load
    def _check_parameters(self, loaded: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        _refuse_unsupported(loaded.get("parameters", {}))
        return loaded


class InferenceRequestSchema(Schema):
    """``$inference_request``: optional id and parameters, input tensors, optional requested outputs."""

    class Meta:
        unknown = RAISE

    id = fields.String(metadata={"description": "Echoed in the response."})
    parameters = _parameters(metadata={"description": (
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
    try:
        return INFERENCE_REQUEST.load(body)
    except ValidationError as exc:
        problems = flatten_messages(exc.messages)
        raise ValidationFailed(summarise(problems), problems) from None


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
