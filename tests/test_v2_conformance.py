"""The /v2 routes against the Open Inference Protocol REST specification.

Written from the specification (kserve/open-inference-protocol,
specification/protocol/inference_rest.md, and KServe's docs/predict-api/v2/required_api.md):
every route with and without ``/versions/<version>``, the response objects'
fields, ``id`` echoed, requested outputs honoured, and every failure answered
with an HTTP error status and the body ``{"error": $string}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service import create_app
from tests.conftest import SEED_REQUEST
from training.artifact import load_artifact
from training.data import FEATURE_NAMES

VIRGINICA = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}
ROWS = [SEED_REQUEST, VIRGINICA, VERSICOLOR]
CLASS_NAMES = ["setosa", "versicolor", "virginica"]
INFER = "/v2/models/iris/infer"


def matrix_input(rows=ROWS, name="input-0", datatype="FP64", nested=False) -> dict:
    data = [[row[f] for f in FEATURE_NAMES] for row in rows]
    return {"name": name, "shape": [len(rows), 4], "datatype": datatype,
            "data": data if nested else [value for values in data for value in values]}


def column_inputs(rows=ROWS, datatype="FP64", order=FEATURE_NAMES) -> list[dict]:
    return [{"name": f, "shape": [len(rows)], "datatype": datatype, "data": [row[f] for row in rows]} for f in order]


def infer_request(**changes) -> dict:
    return {"inputs": [matrix_input()], **changes}


def outputs_by_name(body: dict) -> dict[str, dict]:
    return {output["name"]: output for output in body["outputs"]}


def assert_protocol_error(response, status: int) -> str:
    """The specification's error object: an error status and ``{"error": $string}``, nothing else."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert response.headers["X-Request-ID"]
    return body["error"]


@pytest.fixture
def version(model_dir: Path) -> str:
    return load_artifact(model_dir).version


# Server routes.

def test_server_metadata_has_name_version_extensions(client) -> None:
    response = client.get("/v2")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"name", "version", "extensions"}
    assert body["name"] == "api-inference" and isinstance(body["version"], str) and body["version"]
    assert body["extensions"] == []


def test_server_live_and_ready(client) -> None:
    live = client.get("/v2/health/live")
    assert live.status_code == 200 and live.get_json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.get_json() == {"ready": True}


def test_a_model_that_failed_its_self_test_is_live_but_not_ready(not_ready_client) -> None:
    assert not_ready_client.get("/v2/health/live").get_json() == {"live": True}
    ready = not_ready_client.get("/v2/health/ready")
    assert ready.status_code == 503 and ready.get_json() == {"ready": False}
    model_ready = not_ready_client.get("/v2/models/iris/ready")
    assert model_ready.status_code == 503 and model_ready.get_json() == {"name": "iris", "ready": False}


# Model routes, with and without a version.

def model_paths(version: str, suffix: str = "") -> list[str]:
    return [f"/v2/models/iris{suffix}", f"/v2/models/iris/versions/{version}{suffix}"]


def test_model_metadata_describes_the_tensors(client, version) -> None:
    for path in model_paths(version):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_json()
        assert body["name"] == "iris" and body["versions"] == [version]
        assert isinstance(body["platform"], str) and body["platform"]
        assert body["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 4]}]
        assert body["outputs"] == [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "class_id", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        ]


def test_model_ready_names_the_model(client, version) -> None:
    for path in model_paths(version, "/ready"):
        response = client.get(path)
        assert response.status_code == 200 and response.get_json() == {"name": "iris", "ready": True}, path


@pytest.mark.parametrize("suffix", ["", "/ready"])
def test_unknown_model_or_version_is_404(client, suffix) -> None:
    assert "'resnet'" in assert_protocol_error(client.get(f"/v2/models/resnet{suffix}"), 404)
    assert "'v9'" in assert_protocol_error(client.get(f"/v2/models/iris/versions/v9{suffix}"), 404)


def test_infer_on_unknown_model_or_version_is_404(client) -> None:
    assert "'resnet'" in assert_protocol_error(client.post("/v2/models/resnet/infer", json=infer_request()), 404)
    error = assert_protocol_error(client.post("/v2/models/iris/versions/v9/infer", json=infer_request()), 404)
    assert "'v9'" in error


# Inference.

def test_infer_matches_predict_row_for_row(client, version) -> None:
    response = client.post(INFER, json=infer_request(id="42"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["model_name"] == "iris" and body["model_version"] == version and body["id"] == "42"
    outputs = outputs_by_name(body)
    assert [o["name"] for o in body["outputs"]] == ["label", "class_id", "probabilities"]
    assert outputs["label"] == {"name": "label", "datatype": "BYTES", "shape": [3], "data": ["setosa", "virginica", "versicolor"]}
    assert outputs["class_id"] == {"name": "class_id", "datatype": "INT64", "shape": [3], "data": [0, 2, 1]}
    probabilities = outputs["probabilities"]
    assert probabilities["datatype"] == "FP64" and probabilities["shape"] == [3, 3]
    predicted = client.post("/predict", json={"instances": ROWS}).get_json()["predictions"]
    expected = [p["probabilities"][name] for p in predicted for name in CLASS_NAMES]
    assert probabilities["data"] == expected


def test_without_an_id_the_response_has_none(client) -> None:
    assert "id" not in client.post(INFER, json=infer_request()).get_json()


def test_versioned_infer_path_answers_the_same(client, version) -> None:
    plain = client.post(INFER, json=infer_request()).get_json()
    versioned = client.post(f"/v2/models/iris/versions/{version}/infer", json=infer_request())
    assert versioned.status_code == 200 and versioned.get_json() == plain


@pytest.mark.parametrize("name", ["input-0", "features", "x"])
def test_the_matrix_tensor_may_have_any_name_and_nested_data(client, name) -> None:
    flat = client.post(INFER, json=infer_request()).get_json()["outputs"]
    nested = client.post(INFER, json={"inputs": [matrix_input(name=name, nested=True)]})
    assert nested.status_code == 200 and nested.get_json()["outputs"] == flat


def test_four_named_tensors_in_any_order_answer_as_the_matrix(client) -> None:
    matrix = client.post(INFER, json=infer_request()).get_json()["outputs"]
    order = ["petal_width", "sepal_length", "petal_length", "sepal_width"]
    columns = client.post(INFER, json={"inputs": column_inputs(order=order)})
    assert columns.status_code == 200 and columns.get_json()["outputs"] == matrix


def test_fp32_input_is_read_as_float32(client) -> None:
    body = client.post(INFER, json={"inputs": [matrix_input(datatype="FP32")]}).get_json()
    X = np.array([[row[f] for f in FEATURE_NAMES] for row in ROWS], dtype=np.float32)
    instances = [dict(zip(FEATURE_NAMES, values)) for values in X.astype(np.float64).tolist()]
    predicted = client.post("/predict", json={"instances": instances}).get_json()["predictions"]
    assert outputs_by_name(body)["probabilities"]["data"] == [p["probabilities"][c] for p in predicted for c in CLASS_NAMES]


@pytest.mark.parametrize("tiny", [1e-50, 1e-46])
def test_fp32_value_that_underflows_to_zero_is_refused_like_zero(client, tiny) -> None:
    rows = [{**ROWS[0], "sepal_length": tiny}]
    for inputs in ([matrix_input(rows, datatype="FP32")], [{"name": name, "shape": [1], "datatype": "FP32", "data": [row]}
                                                          for name, row in rows[0].items()]):
        response = client.post(INFER, json={"inputs": inputs})
        assert response.status_code == 400, response.get_json()
        assert "greater than 0" in response.get_json()["error"]


def test_integer_datatypes_take_integer_lengths(client) -> None:
    rows = [{"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 1}]
    for datatype in ("INT32", "UINT8", "INT64"):
        response = client.post(INFER, json={"inputs": [matrix_input(rows, datatype=datatype)]})
        assert response.status_code == 200, datatype
        single = client.post("/predict", json=rows[0]).get_json()
        assert outputs_by_name(response.get_json())["probabilities"]["data"] == list(single["probabilities"].values())


# (datatype, an element outside its range, the type's lowest and highest value: the specification's
# "Tensor Data Types", INTn and UINTn being n-bit signed and unsigned integers)
OUTSIDE_DATATYPE = [
    ("UINT8", 300, 0, 255), ("UINT16", 65536, 0, 65535), ("UINT32", -1, 0, 4294967295),
    ("UINT64", 2**64, 0, 2**64 - 1), ("INT8", -129, -128, 127), ("INT16", 32768, -32768, 32767),
    ("INT32", 2**31, -(2**31), 2**31 - 1), ("INT64", -(2**63) - 1, -(2**63), 2**63 - 1),
]


@pytest.mark.parametrize(("datatype", "value", "low", "high"), OUTSIDE_DATATYPE, ids=[c[0] for c in OUTSIDE_DATATYPE])
def test_an_integer_outside_its_datatype_s_range_is_refused_naming_the_input(client, datatype, value, low, high) -> None:
    matrix = with_input(shape=[2, 4], datatype=datatype, data=[5, 3, 1, 1, 5, 3, value, 1])
    error = assert_protocol_error(client.post(INFER, json=matrix), 400)
    assert error == f"inputs[0].data: Element 6 is {value}, outside the range of {datatype} ({low} to {high})."
    columns = {"inputs": [{"name": name, "shape": [1], "datatype": datatype, "data": [value if name == "petal_width" else 1]}
                          for name in FEATURE_NAMES]}
    error = assert_protocol_error(client.post(INFER, json=columns), 400)
    assert error == f"inputs[3].data: Element 0 is {value}, outside the range of {datatype} ({low} to {high})."


def test_a_fraction_in_an_integer_tensor_is_refused_naming_the_input(client) -> None:
    error = assert_protocol_error(client.post(INFER, json=with_input(shape=[1, 4], datatype="INT32", data=[5, 3, 1.5, 1])), 400)
    assert error == "inputs[0].data: Element 2 is not an integer as INT32 needs: got number 1.5."


def test_an_integer_datatype_s_range_holds_where_the_feature_s_range_is_wider(packaged) -> None:
    model, directory = packaged("wine")
    client = create_app({"TESTING": True, "MODEL_DIR": str(directory)}).test_client()
    ranges = {f["name"]: (f["minimum"], f["maximum"]) for f in client.get("/model").get_json()["features"]}
    row = dict(zip(model.feature_names, model.X[0].tolist()))

    def infer(name: str, datatype: str, value: int):
        inputs = [{"name": feature, "shape": [1], "datatype": datatype if feature == name else "FP64",
                   "data": [value if feature == name else row[feature]]} for feature in model.feature_names]
        return client.post("/v2/models/wine/infer", json={"inputs": inputs})

    for name, datatype, highest in (("magnesium", "INT8", 127), ("proline", "UINT8", 255)):
        low, high = ranges[name]
        assert low <= highest and highest + 1 <= high, f"{name}'s range must hold both values for this test"
        assert infer(name, datatype, highest).status_code == 200
        column = model.feature_names.index(name)
        error = assert_protocol_error(infer(name, datatype, highest + 1), 400)
        assert error.startswith(f"inputs[{column}].data: Element 0 is {highest + 1}, outside the range of {datatype} ")


def test_requested_outputs_only_in_the_order_asked(client) -> None:
    body = client.post(INFER, json=infer_request(outputs=[{"name": "probabilities"}, {"name": "label"}])).get_json()
    assert [o["name"] for o in body["outputs"]] == ["probabilities", "label"]


def test_empty_outputs_list_returns_every_output(client) -> None:
    body = client.post(INFER, json=infer_request(outputs=[])).get_json()
    assert [o["name"] for o in body["outputs"]] == ["label", "class_id", "probabilities"]


def test_probabilities_as_fp32_on_request(client) -> None:
    fp64 = outputs_by_name(client.post(INFER, json=infer_request()).get_json())["probabilities"]
    body = client.post(INFER, json=infer_request(parameters={"probabilities_datatype": "FP32"})).get_json()
    fp32 = outputs_by_name(body)["probabilities"]
    assert fp32["datatype"] == "FP32" and fp32["shape"] == [3, 3]
    assert fp32["data"] == np.array(fp64["data"], dtype=np.float32).tolist()
    assert fp32["data"] != fp64["data"]


def test_client_parameters_of_no_meaning_here_are_accepted(client) -> None:
    # tritonclient sends binary_data_output and binary_data; outputs stay JSON.
    request = infer_request(parameters={"binary_data_output": True, "priority": 1, "note": "x"})
    request["outputs"] = [{"name": "class_id", "parameters": {"binary_data": True}}]
    response = client.post(INFER, json=request)
    assert response.status_code == 200 and response.get_json()["outputs"][0]["data"] == [0, 2, 1]


def test_body_without_content_type_is_read_as_json(client) -> None:
    response = client.post(INFER, data=json.dumps(infer_request()))
    assert response.status_code == 200


def test_batch_at_the_limit_is_accepted(client, app) -> None:
    limit = app.config["MAX_BATCH_SIZE"]
    response = client.post(INFER, json={"inputs": [matrix_input([SEED_REQUEST] * limit)]})
    assert response.status_code == 200 and outputs_by_name(response.get_json())["label"]["shape"] == [limit]


# Every failure: an error status and {"error": $string}, never a 500.

def with_input(**changes) -> dict:
    return {"inputs": [{**matrix_input(), **changes}]}


def columns_with(name: str, **changes) -> dict:
    return {"inputs": [{**tensor, **changes} if tensor["name"] == name else tensor for tensor in column_inputs()]}


ONE_ROW = [5.1, 3.5, 1.4, 0.2]

# (case, request body: dict sent as JSON or raw bytes, status, words in the error)
BAD_REQUESTS = [
    ("bad JSON", b'{"inputs": [', 400, "not valid JSON"),
    ("empty body", b"", 400, "empty"),
    ("NaN literal", b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [NaN, 3.5, 1.4, 0.2]}]}', 400, "NaN"),
    ("body not an object", b"[1, 2]", 400, "JSON object, got array"),
    ("missing inputs", {"id": "1"}, 400, "inputs: Missing data"),
    ("no input tensors", {"inputs": []}, 400, "at least one input"),
    ("inputs not a list", {"inputs": {"name": "x"}}, 400, "inputs"),
    ("unknown request field", infer_request(model="iris"), 400, "model: Unknown field"),
    ("id not a string", infer_request(id=42), 400, "id: Not a valid string"),
    ("parameters not an object", infer_request(parameters=[1]), 400, "parameters"),
    ("parameter value an object", infer_request(parameters={"a": {"b": 1}}), 400, "string, number or boolean"),
    ("unknown probabilities datatype", infer_request(parameters={"probabilities_datatype": "FP16"}), 400, "probabilities_datatype"),
    ("input without a name", {"inputs": [{k: v for k, v in matrix_input().items() if k != "name"}]}, 400, "inputs[0].name"),
    ("input without data", {"inputs": [{k: v for k, v in matrix_input().items() if k != "data"}]}, 400, "inputs[0].data"),
    ("unknown input field", with_input(contents=[1]), 400, "inputs[0].contents: Unknown field"),
    ("wrong datatype BYTES", with_input(datatype="BYTES"), 400, "got BYTES"),
    ("wrong datatype BOOL", with_input(datatype="BOOL"), 400, "got BOOL"),
    ("wrong datatype FP16", with_input(datatype="FP16"), 400, "got FP16"),
    ("not a datatype", with_input(datatype="float64"), 400, "inputs[0].datatype"),
    ("datatypes are case-sensitive", with_input(datatype="fp64"), 400, "inputs[0].datatype"),
    ("shape not [N, 4]", with_input(shape=[4, 3], data=ONE_ROW * 3), 400, "Must be [N, 4]"),
    ("shape of three dimensions", with_input(shape=[3, 4, 1]), 400, "Must be [N, 4]"),
    ("shape with a float", with_input(shape=[3.0, 4]), 400, "inputs[0].shape"),
    ("shape with a negative", with_input(shape=[-1, 4]), 400, "inputs[0].shape"),
    ("shape with a boolean", with_input(shape=[True, 4]), 400, "inputs[0].shape"),
    ("data length mismatch", with_input(data=ONE_ROW * 3 + [1.0]), 400, "Holds 13 values but shape [3, 4] needs 12"),
    ("nested row too short", with_input(data=[ONE_ROW, ONE_ROW, ONE_ROW[:3]]), 400, "data[2] must be an array of 4"),
    ("nested rows fewer than shape", with_input(data=[ONE_ROW, ONE_ROW]), 400, "data must be an array of 3"),
    ("nested deeper than shape", with_input(data=[[[v] for v in ONE_ROW]] * 3), 400, "nested deeper"),
    ("data not an array", with_input(data="5.1,3.5"), 400, "inputs[0].data: Must be an array"),
    ("non-numeric data", with_input(data=ONE_ROW * 2 + ["5.1", 3.5, 1.4, 0.2]), 400, "Element 8 is not a number"),
    ("null in data", with_input(data=ONE_ROW * 2 + [None, 3.5, 1.4, 0.2]), 400, "got null"),
    ("boolean in data", with_input(data=ONE_ROW * 2 + [True, 3.5, 1.4, 0.2]), 400, "got boolean"),
    ("float in an integer tensor", with_input(datatype="INT32"), 400, "Element 0 is not an integer as INT32 needs"),
    ("number too large", b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1' + b"0" * 400 + b', 3.5, 1.4, 0.2]}]}', 400, "too large"),
    ("out of range", with_input(data=ONE_ROW * 2 + [5.1, 3.5, 1.4, 31.0]), 400, "input-0[2].petal_width: Must be greater than 0 and at most 30 cm."),
    ("zero length", with_input(data=[0.0] + ONE_ROW[1:] + ONE_ROW * 2), 400, "input-0[0].sepal_length"),
    ("negative length", columns_with("sepal_width", data=[3.5, -3.5, 3.5]), 400, "sepal_width[1]: Must be greater than 0"),
    ("empty batch", with_input(shape=[0, 4], data=[]), 400, "at least one row"),
    ("missing feature tensors", {"inputs": column_inputs()[:3]}, 400, "Missing input tensor(s) petal_width"),
    ("unknown tensor beside the features", {"inputs": [*column_inputs(), {**column_inputs()[0], "name": "stem"}]}, 400, "Unknown input 'stem'"),
    ("duplicate tensor names", {"inputs": [*column_inputs(), column_inputs()[0]]}, 400, "sepal_length given more than once"),
    ("feature tensor not [N]", columns_with("petal_length", shape=[3, 1]), 400, "Must be [N]"),
    ("feature tensors of different lengths", columns_with("petal_length", shape=[2], data=[1.4, 1.4]), 400, "same length"),
    ("feature tensor with a string", columns_with("sepal_width", data=[3.5, "x", 3.5]), 400, "inputs[1].data"),
    ("unknown output", infer_request(outputs=[{"name": "scores"}]), 400, "Unknown output 'scores'"),
    ("output asked twice", infer_request(outputs=[{"name": "label"}, {"name": "label"}]), 400, "more than once"),
    ("output without a name", infer_request(outputs=[{}]), 400, "outputs[0].name"),
    ("classification extension", infer_request(outputs=[{"name": "label", "parameters": {"classification": 2}}]), 400, "classification extension"),
    ("shared memory extension", with_input(parameters={"shared_memory_region": "r"}), 400, "shared memory extension"),
    ("batch over the limit", with_input(shape=[51, 4], data=ONE_ROW * 51), 413, "batch of 51 rows is over the limit of 50"),
    ("column batch over the limit", {"inputs": column_inputs([SEED_REQUEST] * 51)}, 413, "over the limit of 50"),
    ("absurd batch in the shape", with_input(shape=[10**30, 4]), 413, "over the limit of 50"),
    ("body over the limit", b'{"inputs": [], "pad": "' + b"x" * 20_000 + b'"}', 413, "over the limit of 16384 bytes"),
]


@pytest.mark.parametrize(("case", "body", "status", "words"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_gets_the_protocol_error(client, case, body, status, words) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    error = assert_protocol_error(client.post(INFER, data=raw, content_type="application/json"), status)
    assert words in error, error
    assert client.post(INFER, json=infer_request()).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "application/x-www-form-urlencoded"])
def test_a_content_type_other_than_json_is_415(client, content_type) -> None:
    error = assert_protocol_error(client.post(INFER, data=json.dumps(infer_request()), content_type=content_type), 415)
    assert "application/json" in error


def test_a_compressed_body_is_415(client) -> None:
    headers = {"Content-Encoding": "gzip"}
    assert "gzip" in assert_protocol_error(client.post(INFER, data=b"\x1f\x8b", headers=headers, content_type="application/json"), 415)


def test_binary_tensor_data_is_refused_with_a_reason(client) -> None:
    headers = {"Inference-Header-Content-Length": "10"}
    error = assert_protocol_error(client.post(INFER, data=json.dumps(infer_request()), headers=headers), 400)
    assert "binary tensor data" in error


def test_wrong_method_is_405_with_allow(client) -> None:
    response = client.get(INFER)
    assert "GET" in assert_protocol_error(response, 405)
    assert "POST" in response.headers["Allow"]
    assert "POST" in assert_protocol_error(client.post("/v2/models/iris"), 405)


def test_unknown_v2_route_is_404(client) -> None:
    assert "/v2/models/iris/explain" in assert_protocol_error(client.post("/v2/models/iris/explain"), 404)
    assert_protocol_error(client.get("/v2/repository/index"), 404)


def test_routes_outside_v2_keep_the_api_error_shape(client) -> None:
    assert set(client.get("/v2x").get_json()) == {"error", "request_id"}
    body = client.post("/predict", json={**SEED_REQUEST, "petal_width": 31.0}).get_json()
    assert body["error"]["code"] == "validation_error"


# One set of limits for both contracts.

def test_predict_and_v2_refuse_the_same_value_with_the_same_words(client) -> None:
    for value in (0.0, -1.0, 30.5, 1e300):
        predicted = client.post("/predict", json={**SEED_REQUEST, "petal_width": value}).get_json()["error"]
        problem = predicted["fields"]["petal_width"][0]
        inputs = [{**t, "data": [value]} if t["name"] == "petal_width" else t for t in column_inputs([SEED_REQUEST])]
        error = assert_protocol_error(client.post(INFER, json={"inputs": inputs}), 400)
        assert error == f"petal_width[0]: {problem}"


def test_predict_and_v2_share_the_batch_limit(client, app) -> None:
    over = app.config["MAX_BATCH_SIZE"] + 1
    assert client.post("/predict", json={"instances": [SEED_REQUEST] * over}).status_code == 413
    assert client.post(INFER, json={"inputs": [matrix_input([SEED_REQUEST] * over)]}).status_code == 413


def test_openapi_documents_every_v2_route_and_method(client, app) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/v2")]
    assert len(rules) == 9
    for rule in rules:
        path = rule.rule.replace("<", "{").replace(">", "}")
        assert path in paths, path
        documented = set(paths[path]) - {"parameters"}
        assert documented == {method.lower() for method in rule.methods - {"HEAD", "OPTIONS"}}, path


def test_a_matrix_of_the_wrong_width_is_named_in_the_model_s_own_words(client) -> None:
    response = client.post(INFER, json=with_input(shape=[4, 3], data=ONE_ROW * 3))
    assert response.get_json() == {"error": (
        "inputs[0].shape: Must be [N, 4] (N flowers by sepal_length, sepal_width, petal_length, petal_width): got [4, 3]."
    )}
