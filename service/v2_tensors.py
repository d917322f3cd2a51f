"""Open Inference Protocol tensors to and from the served model's arrays; nothing about HTTP.

Inputs, either form, one row per input row, features as the artifact lists
them (``training.fields``):

- one tensor of shape ``[N, n_features]``, any name (the metadata calls it
  ``features``), columns in the artifact's feature order;
- one tensor of shape ``[N]`` per feature, named after it, in any order.

``data`` is row-major, flat or nested exactly as the shape (the specification's
"Tensor Data"). Outputs of a classifier: ``label`` (BYTES ``[N]``), ``class_id``
(INT64 ``[N]``) and, when it gives them, ``probabilities`` (FP64 or FP32
``[N, n_classes]``, columns in ``class_names`` order); of a regressor:
``prediction`` (FP64 ``[N]``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from service.errors import ValidationFailed
from service.model import Predictions
from service.schemas import json_type
from service.v2_schemas import FLOAT_DATATYPES, INTEGER_RANGES, InputTensor
from service.validation import FeatureLimits, check_batch_size
from training.fields import Contract

FEATURES_TENSOR = "features"
CLASSIFIER_OUTPUTS = ("label", "class_id", "probabilities")
REGRESSOR_OUTPUTS = ("prediction",)
BATCH_DIMENSION = -1  # the specification's mark for a variable-size dimension


def _refuse(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", {field: [problem]})


def output_names(contract: Contract) -> tuple[str, ...]:
    """The outputs ``contract``'s model produces, in the order they are returned by default."""
    if not contract.is_classifier:
        return REGRESSOR_OUTPUTS
    return CLASSIFIER_OUTPUTS if contract.predict_proba else CLASSIFIER_OUTPUTS[:2]


def input_metadata(n_features: int) -> list[dict[str, Any]]:
    """The ``$metadata_tensor`` list for the inputs: the ``[N, n_features]`` form."""
    return [{"name": FEATURES_TENSOR, "datatype": "FP64", "shape": [BATCH_DIMENSION, n_features]}]


def output_metadata(contract: Contract) -> list[dict[str, Any]]:
    """The ``$metadata_tensor`` list for the outputs, in ``output_names`` order."""
    tensors = {
        "label": {"name": "label", "datatype": "BYTES", "shape": [BATCH_DIMENSION]},
        "class_id": {"name": "class_id", "datatype": "INT64", "shape": [BATCH_DIMENSION]},
        "probabilities": {"name": "probabilities", "datatype": "FP64",
                          "shape": [BATCH_DIMENSION, len(contract.class_names)]},
        "prediction": {"name": "prediction", "datatype": "FP64", "shape": [BATCH_DIMENSION]},
    }
    return [tensors[name] for name in output_names(contract)]


def _flatten(data: list[Any], shape: tuple[int, ...], field: str) -> list[Any]:
    """``data`` flat (``prod(shape)`` elements) or nested exactly as ``shape``, as a flat list."""
    expected = math.prod(shape)
    if not any(isinstance(element, list) for element in data):
        if len(data) != expected:
            raise _refuse(field, f"Holds {len(data)} values but shape {list(shape)} needs {expected}.")
        return data
    flat: list[Any] = []

    def walk(node: Any, depth: int, path: str) -> None:
        if depth == len(shape):
            if isinstance(node, list):
                raise _refuse(field, f"{path} is nested deeper than shape {list(shape)}.")
            flat.append(node)
        elif not isinstance(node, list) or len(node) != shape[depth]:
            got = f"{len(node)} elements" if isinstance(node, list) else json_type(node)
            raise _refuse(field, f"{path or 'data'} must be an array of {shape[depth]} as shape {list(shape)} says: got {got}.")
        else:
            for index, child in enumerate(node):
                walk(child, depth + 1, f"{path or 'data'}[{index}]")

    walk(data, 0, "")
    return flat


def _values(tensor: InputTensor, field: str) -> np.ndarray:
    """The tensor's elements as a flat float64 array, each checked against its datatype: a JSON
    number for FP32 and FP64; for an integer type, a JSON integer within the type's range
    (``INTEGER_RANGES``), as a client holding the tensor in that type could have sent it."""
    flat = _flatten(tensor.data, tensor.shape, f"{field}.data")
    if tensor.datatype in FLOAT_DATATYPES:
        allowed, kind = (int, float), "a number"
    else:
        allowed, kind = (int,), "an integer"
    low, high = INTEGER_RANGES.get(tensor.datatype, (None, None))
    for index, element in enumerate(flat):
        if type(element) not in allowed:
            got = f"number {element}" if isinstance(element, float) else json_type(element)
            raise _refuse(f"{field}.data", f"Element {index} is not {kind} as {tensor.datatype} needs: got {got}.")
        if low is not None and not low <= element <= high:
            raise _refuse(f"{field}.data", (
                f"Element {index} is {element}, outside the range of {tensor.datatype} ({low} to {high})."
            ))
    try:
        return np.array(flat, dtype=np.float64)
    except OverflowError:
        raise _refuse(f"{field}.data", "Number too large.") from None


def _as_declared(values: np.ndarray, datatype: str) -> np.ndarray:
    """FP32 data means the float32 nearest each value, as a float32 client would hold it.

    Applied before the range check, so a value that underflows to 0 or
    overflows to infinity in float32 is refused like a 0 or an infinity.
    """
    if datatype != "FP32":
        return values
    with np.errstate(over="ignore"):
        return values.astype(np.float32).astype(np.float64)


def _batch_rows(n_rows: int, max_batch_size: int, field: str) -> None:
    if n_rows == 0:
        raise _refuse(field, "Must hold at least one row.")
    check_batch_size(n_rows, max_batch_size, field, noun="rows")


def _matrix(tensor: InputTensor, max_batch_size: int, names: Sequence[str], limits: FeatureLimits,
            row_name: str) -> np.ndarray:
    field = "inputs[0]"
    if len(tensor.shape) != 2 or tensor.shape[1] != len(names):
        raise _refuse(f"{field}.shape", (
            f"Must be [N, {len(names)}] (N {row_name}s by {', '.join(names)}): got {list(tensor.shape)}."
        ))
    _batch_rows(tensor.shape[0], max_batch_size, f"{field}.shape")
    X = _as_declared(_values(tensor, field).reshape(tensor.shape), tensor.datatype)
    limits.check(X, lambda row, column: f"{tensor.name}[{row}].{names[column]}")
    return X


def _columns(inputs: Sequence[InputTensor], max_batch_size: int, names: Sequence[str],
             limits: FeatureLimits) -> np.ndarray:
    positions = {tensor.name: index for index, tensor in enumerate(inputs)}
    for index, tensor in enumerate(inputs):
        if tensor.name not in names:
            raise _refuse(f"inputs[{index}].name", (
                f"Unknown input {tensor.name!r}: send one [N, {len(names)}] tensor, "
                f"or one [N] tensor for each of {', '.join(names)}."
            ))
    missing = [name for name in names if name not in positions]
    if missing:
        raise _refuse("inputs", f"Missing input tensor(s) {', '.join(missing)}: send one [N] tensor for each feature.")
    lengths = set()
    for index, tensor in enumerate(inputs):
        if len(tensor.shape) != 1:
            raise _refuse(f"inputs[{index}].shape", f"Must be [N]: got {list(tensor.shape)}.")
        lengths.add(tensor.shape[0])
    if len(lengths) > 1:
        raise _refuse("inputs", f"The feature tensors must have the same length: got {sorted(lengths)}.")
    _batch_rows(lengths.pop(), max_batch_size, "inputs")
    ordered = [positions[name] for name in names]
    X = np.column_stack([
        _as_declared(_values(inputs[index], f"inputs[{index}]"), inputs[index].datatype) for index in ordered
    ])
    limits.check(X, lambda row, column: f"{names[column]}[{row}]")
    return X


def features_matrix(inputs: Sequence[InputTensor], max_batch_size: int, names: Sequence[str],
                    limits: FeatureLimits, row_name: str) -> np.ndarray:
    """The request's input tensors as ``X`` (n, n_features) float64, columns in ``names`` order;
    ``row_name`` names one row in the shape error (the contract's, e.g. "flower").

    Raises ``ValidationFailed`` (400) for a shape, datatype or data problem and
    for a measurement outside the range /predict accepts, ``BatchTooLarge``
    (413) past ``max_batch_size`` rows.
    """
    duplicates = sorted(name for name, count in Counter(tensor.name for tensor in inputs).items() if count > 1)
    if duplicates:
        raise _refuse("inputs", f"Input tensor names must be unique: {', '.join(duplicates)} given more than once.")
    if len(inputs) == 1 and inputs[0].name not in names:
        return _matrix(inputs[0], max_batch_size, names, limits, row_name)
    return _columns(inputs, max_batch_size, names, limits)


def requested_outputs(outputs: Sequence[dict[str, Any]] | None, available: Sequence[str]) -> list[str]:
    """Names of the outputs to return, in the order asked; all of them when none are named.

    Raises ``ValidationFailed`` (400) for an output this model does not produce or one named twice.
    """
    if not outputs:
        return list(available)
    names = []
    for index, output in enumerate(outputs):
        name = output["name"]
        if name not in available:
            raise _refuse(f"outputs[{index}].name", f"Unknown output {name!r}: this model produces {', '.join(available)}.")
        if name in names:
            raise _refuse(f"outputs[{index}].name", f"Output {name!r} is asked for more than once.")
        names.append(name)
    return names


def output_tensors(
    predictions: Predictions, class_names: Sequence[str], names: Sequence[str], probabilities_datatype: str = "FP64"
) -> list[dict[str, Any]]:
    """The ``$response_output`` list for ``names`` (of ``output_names``), data flat and row-major."""
    if predictions.values is not None:
        values = predictions.values
        return [{"name": "prediction", "datatype": "FP64", "shape": [len(values)], "data": values.tolist()}]
    n_rows = len(predictions.class_ids)
    class_ids = predictions.class_ids.tolist()
    probabilities = predictions.probabilities
    if probabilities is not None and probabilities_datatype == "FP32":
        probabilities = probabilities.astype(np.float32)
    build: dict[str, Callable[[], dict[str, Any]]] = {
        "label": lambda: {"name": "label", "datatype": "BYTES", "shape": [n_rows],
                          "data": [class_names[class_id] for class_id in class_ids]},
        "class_id": lambda: {"name": "class_id", "datatype": "INT64", "shape": [n_rows], "data": class_ids},
        "probabilities": lambda: {"name": "probabilities", "datatype": probabilities_datatype,
                                  "shape": list(probabilities.shape), "data": probabilities.ravel().tolist()},
    }
    return [build[name]() for name in names]
