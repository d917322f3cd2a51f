"""Models fitted elsewhere, packaged by ``python -m training package``, served: wine (a 3-class
classifier of 13 features), diabetes (a regression of 10) and a classifier without ``predict_proba``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pytest

from bench.server import PRODUCTION, gunicorn
from service import create_app
from service.predict import parse_with
from service.errors import ApiError
from tests import own_models
from tests.conftest import ROOT

MAX_BATCH_SIZE = 500


@pytest.fixture(scope="module")
def served(packaged):
    """``served(name)``: (the fitted ``OwnModel``, a test client of an app serving its artifact)."""
    clients = {}

    def get(name: str):
        if name not in clients:
            model, model_dir = packaged(name)
            app = create_app({"TESTING": True, "MODEL_DIR": str(model_dir), "MAX_BATCH_SIZE": MAX_BATCH_SIZE})
            clients[name] = (model, app.test_client())
        return clients[name]

    return get


def rows(model, X: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(model.feature_names, row)) for row in X.tolist()]


def test_wine_answers_what_scikit_learn_predicts_for_every_row(served) -> None:
    model, client = served("wine")
    body = client.post("/predict", json={"instances": rows(model, model.X)}).get_json()
    assert [p["prediction"] for p in body["predictions"]] == model.estimator.predict(model.X).tolist()
    probabilities = [[p["probabilities"][name] for name in ("class_0", "class_1", "class_2")] for p in body["predictions"]]
    np.testing.assert_allclose(probabilities, model.estimator.predict_proba(model.X), rtol=0, atol=1e-12)


def test_wine_answers_one_row_as_scikit_learn_does(served) -> None:
    model, client = served("wine")
    for row in model.X[::20]:
        body = client.post("/predict", json=dict(zip(model.feature_names, row.tolist()))).get_json()
        assert body["prediction"] == model.estimator.predict(row[None, :])[0]
        assert set(body) == {"prediction", "class_id", "probabilities", "model_version"}


def test_diabetes_answers_the_number_scikit_learn_predicts(served) -> None:
    model, client = served("diabetes")
    body = client.post("/predict", json={"instances": rows(model, model.X)}).get_json()
    np.testing.assert_allclose([p["prediction"] for p in body["predictions"]], model.estimator.predict(model.X),
                               rtol=1e-12, atol=0)
    single = client.post("/predict", json=rows(model, model.X[:1])[0]).get_json()
    assert set(single) == {"prediction", "model_version"}
    assert single["prediction"] == pytest.approx(model.estimator.predict(model.X[:1])[0], rel=1e-12)


def test_a_classifier_without_predict_proba_answers_its_class_alone(served) -> None:
    model, client = served("wine-ridge")
    single = client.post("/predict", json=rows(model, model.X[:1])[0]).get_json()
    assert set(single) == {"prediction", "class_id", "model_version"}
    body = client.post("/predict", json={"instances": rows(model, model.X)}).get_json()
    assert [p["prediction"] for p in body["predictions"]] == model.estimator.predict(model.X).tolist()


def test_classes_in_any_order_are_named_by_their_position(tmp_path: Path) -> None:
    model = own_models.wine_without_probabilities(tmp_path)
    # RidgeClassifier.predict reads classes_[argmax]: reversed, they stay consistent but unsorted.
    model.estimator[-1].classes_ = model.estimator[-1].classes_[::-1].copy()
    joblib.dump(model.estimator, model.model_path)
    assert own_models.package(model, tmp_path / "reversed") == 0
    client = create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "reversed"), "MAX_BATCH_SIZE": 500}).test_client()
    predictions = client.post("/predict", json={"instances": rows(model, model.X)}).get_json()["predictions"]
    expected = model.estimator.predict(model.X).tolist()
    assert [p["prediction"] for p in predictions] == expected
    assert [p["class_id"] for p in predictions] == [["class_2", "class_1", "class_0"].index(label) for label in expected]


@pytest.mark.parametrize("name, field, value, message", [
    ("wine", "alcohol", 40.0, "Must be at least 10.65 and at most 15.21."),
    ("wine", "proline", "1065", "Not a number: got string."),
    ("wine", "hue", None, "Field may not be null."),
    ("diabetes", "bmi", 1.5, "Must be at least -0.117 and at most 0.197."),
    ("diabetes", "s6", True, "Not a number: got boolean."),
])
def test_bad_input_is_refused_naming_the_field(served, name: str, field: str, value, message: str) -> None:
    model, client = served(name)
    row = {**rows(model, model.X[:1])[0], field: value}
    single = client.post("/predict", json=row)
    assert single.status_code == 400
    assert single.get_json()["error"]["fields"] == {field: [message]}
    batch = client.post("/predict", json={"instances": [rows(model, model.X[:1])[0], row]})
    assert batch.get_json()["error"]["fields"] == {f"instances[1].{field}": [message]}


def test_a_missing_and_an_unknown_feature_are_named(served) -> None:
    model, client = served("diabetes")
    row = rows(model, model.X[:1])[0]
    del row["s3"]
    row["s7"] = 0.0
    fields = client.post("/predict", json=row).get_json()["error"]["fields"]
    assert fields == {"s3": ["Missing data for required field."], "s7": ["Unknown field."]}


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_the_fast_paths_change_no_outcome(served, name: str) -> None:
    model, client = served(name)
    inputs = client.application.extensions["inputs"]
    good = rows(model, model.X[:3])
    first = model.feature_names[0]
    bodies = [good[0], {"instances": good}, {**good[0], first: 1e9}, {"instances": [good[0], {**good[1], first: "x"}]},
              {**good[0], first: 10**400}, {"instances": [{**good[0], first: float("nan")}]}]
    for body in bodies:
        outcomes = []
        for well_typed in (inputs.well_typed_matrix, lambda rows: None):
            try:
                X, batch = parse_with(body, MAX_BATCH_SIZE, inputs, well_typed)
                outcomes.append((X.tolist(), batch))
            except ApiError as exc:
                outcomes.append((exc.status_code, exc.message, exc.fields))
        assert outcomes[0] == outcomes[1], body
        valid = inputs.valid_row(body)
        assert (valid is not None) == (isinstance(outcomes[0][0], list) and not outcomes[0][1]), body


@pytest.mark.parametrize("name, n_features", [("wine", 13), ("diabetes", 10)])
def test_openapi_describes_the_models_own_fields(served, name: str, n_features: int) -> None:
    model, client = served(name)
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    features = schemas["Features"]
    assert list(features["properties"]) == list(model.feature_names) and len(features["properties"]) == n_features
    assert set(features["required"]) == set(model.feature_names) and features["additionalProperties"] is False
    metadata = client.get("/model").get_json()
    for declared in metadata["features"]:
        described = features["properties"][declared["name"]]
        assert (described["type"], described["minimum"], described["maximum"]) == (
            "number", declared["minimum"], declared["maximum"])
    prediction = schemas["SinglePredictionResponse"]["properties"]["prediction"]
    assert prediction["type"] == ("string" if name == "wine" else "number")
    assert ("probabilities" in schemas["SinglePredictionResponse"]["properties"]) == (name == "wine")


def test_v2_metadata_describes_the_models_tensors(served) -> None:
    _, wine = served("wine")
    _, diabetes = served("diabetes")
    _, ridge = served("wine-ridge")
    assert wine.get("/v2/models/wine").get_json()["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 13]}]
    assert [o["name"] for o in wine.get("/v2/models/wine").get_json()["outputs"]] == ["label", "class_id", "probabilities"]
    assert [o["name"] for o in ridge.get("/v2/models/wine-ridge").get_json()["outputs"]] == ["label", "class_id"]
    assert diabetes.get("/v2/models/diabetes").get_json()["outputs"] == [
        {"name": "prediction", "datatype": "FP64", "shape": [-1]}]


def test_v2_infer_answers_what_scikit_learn_predicts(served) -> None:
    model, client = served("wine")
    request = {"inputs": [{"name": "x", "shape": list(model.X.shape), "datatype": "FP64", "data": model.X.tolist()}]}
    outputs = {o["name"]: o for o in client.post("/v2/models/wine/infer", json=request).get_json()["outputs"]}
    assert outputs["label"]["data"] == model.estimator.predict(model.X).tolist()
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (-1, 3)),
                               model.estimator.predict_proba(model.X), rtol=0, atol=1e-12)


def test_v2_infer_takes_one_tensor_per_feature_for_a_regression(served) -> None:
    model, client = served("diabetes")
    X = model.X[:50]
    request = {"inputs": [{"name": name, "shape": [len(X)], "datatype": "FP64", "data": X[:, column].tolist()}
                          for column, name in reversed(list(enumerate(model.feature_names)))]}
    (output,) = client.post("/v2/models/diabetes/infer", json=request).get_json()["outputs"]
    assert output["name"] == "prediction" and output["shape"] == [50]
    np.testing.assert_allclose(output["data"], model.estimator.predict(X), rtol=1e-12, atol=0)


def test_v2_shape_error_names_rows_for_a_model_without_a_row_name(served) -> None:
    _, client = served("diabetes")
    request = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [0.0, 0.0, 0.0]}]}
    message = client.post("/v2/models/diabetes/infer", json=request).get_json()["error"]
    assert message.startswith("inputs[0].shape: Must be [N, 10] (N rows by age, sex, bmi,")


def test_v2_infer_refuses_a_value_out_of_range_naming_it(served) -> None:
    model, client = served("diabetes")
    X = model.X[:2].copy()
    X[1, 2] = 5.0
    request = {"inputs": [{"name": "x", "shape": list(X.shape), "datatype": "FP64", "data": X.tolist()}]}
    response = client.post("/v2/models/diabetes/infer", json=request)
    assert response.status_code == 400
    assert response.get_json() == {"error": "x[1].bmi: Must be at least -0.117 and at most 0.197."}


def test_an_integer_feature_refuses_a_fraction_and_takes_a_whole_number(tmp_path: Path) -> None:
    model = own_models.with_integer_column(own_models.wine(tmp_path), 4)  # magnesium
    assert own_models.package(model, tmp_path / "wine") == 0
    client = create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "wine")}).test_client()
    row = rows(model, model.X[:1])[0]
    assert client.post("/predict", json={**row, "magnesium": 101}).status_code == 200
    for body, field in (({**row, "magnesium": 100.5}, "magnesium"),
                        ({"instances": [row, {**row, "magnesium": 100.5}]}, "instances[1].magnesium")):
        refused = client.post("/predict", json=body)
        assert refused.status_code == 400 and refused.get_json()["error"]["fields"] == {field: ["Must be an integer."]}
    schema = client.get("/openapi.json").get_json()["components"]["schemas"]["Features"]
    assert schema["properties"]["magnesium"]["type"] == "integer"


def test_a_model_that_fails_its_self_test_is_not_ready(packaged, tmp_path: Path) -> None:
    _, model_dir = packaged("diabetes")
    copy = Path(shutil.copytree(model_dir, tmp_path / "diabetes"))
    metadata = json.loads((copy / "metadata.json").read_text())
    metadata["self_test"]["expected_predictions"][0] += 1.0
    (copy / "metadata.json").write_text(json.dumps(metadata))
    client = create_app({"TESTING": True, "MODEL_DIR": str(copy)}).test_client()
    assert client.get("/ready").status_code == 503
    assert "the artifact recorded" in client.get("/ready").get_json()["error"]["message"]


# Serves the artifact with the warning scikit-learn gives a model fitted on named columns, and
# only that one, raised as an error; prints the status of /ready and of two predictions.
SERVE_WITH_THE_WARNING_AS_AN_ERROR = """
import json, sys
from service import create_app
client = create_app({"TESTING": True, "MODEL_DIR": sys.argv[1]}).test_client()
sample = json.loads(open(sys.argv[1] + "/metadata.json").read())["sample"]
print(client.get("/ready").status_code, client.post("/predict", json=sample[0]).status_code,
      client.post("/predict", json={"instances": sample}).status_code)
"""


def test_a_model_fitted_on_named_columns_is_served_without_its_warning(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    # What scikit-learn records when fitted on a data frame; it then warns on every plain array.
    model.estimator.feature_names_in_ = np.array(model.feature_names, dtype=object)
    joblib.dump(model.estimator, model.model_path)
    assert own_models.package(model, tmp_path / "named") == 0
    # In a process of its own: pytest resets warning filters around each test.
    run = subprocess.run([sys.executable, "-W", "error:X does not have valid feature names:UserWarning",
                          "-c", SERVE_WITH_THE_WARNING_AS_AN_ERROR, str(tmp_path / "named")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["200", "200", "200"], run.stderr


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_gunicorn_serves_the_packaged_model(packaged, tmp_path: Path, name: str) -> None:
    model, model_dir = packaged(name)
    sample = json.loads((model_dir / "metadata.json").read_text())["sample"]
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        request = urllib.request.Request(f"{server.url}/predict", data=json.dumps({"instances": sample}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answers = json.loads(response.read())["predictions"]
    X = np.array([[row[feature] for feature in model.feature_names] for row in sample])
    expected = model.estimator.predict(X)
    if name == "wine":
        assert [answer["prediction"] for answer in answers] == expected.tolist()
    else:
        np.testing.assert_allclose([answer["prediction"] for answer in answers], expected, rtol=1e-12, atol=0)
