"""Packaging a model fitted elsewhere: the contract it writes, and the one-line refusals."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
import sklearn.base
from sklearn.preprocessing import StandardScaler

from bench.server import ROOT
from tests import own_models
from service import create_app
from training.__main__ import main as training_main
from training.artifact import load_artifact
from training.contract import range_from_data


def metadata_of(model_dir: Path) -> dict:
    return json.loads((model_dir / "metadata.json").read_text())


def test_wine_is_packaged_as_a_three_class_classifier_of_thirteen_features(packaged) -> None:
    model, model_dir = packaged("wine")
    metadata = metadata_of(model_dir)
    assert metadata["name"] == "wine" and metadata["source"] == "package" and metadata["task"] == "classification" and metadata["target"] == "cultivar"
    assert [feature["name"] for feature in metadata["features"]] == list(model.feature_names)
    assert len(metadata["features"]) == 13
    assert metadata["class_names"] == ["class_0", "class_1", "class_2"] and metadata["predict_proba"] is True
    assert metadata["versions"]["scikit-learn"] == sklearn.__version__
    assert load_artifact(model_dir).contract.feature_names == model.feature_names


def test_diabetes_is_packaged_as_a_regression_of_ten_features(packaged) -> None:
    model, model_dir = packaged("diabetes")
    metadata = metadata_of(model_dir)
    assert metadata["task"] == "regression" and metadata["target"] == "progression"
    assert [feature["name"] for feature in metadata["features"]] == list(model.feature_names)
    assert "class_names" not in metadata
    expected = model.estimator.predict(np.array(metadata["self_test"]["inputs"]))
    assert metadata["self_test"]["expected_predictions"] == expected.tolist()


def test_a_classifier_without_predict_proba_is_recorded_as_such(packaged) -> None:
    _, model_dir = packaged("wine-ridge")
    assert metadata_of(model_dir)["predict_proba"] is False


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_each_range_from_the_data_holds_the_data_with_its_margin(packaged, name: str) -> None:
    model, model_dir = packaged(name)
    for column, feature in enumerate(metadata_of(model_dir)["features"]):
        values = model.X[:, column]
        span = values.max() - values.min()
        noise = 1e-9 * span  # 11.03 - 0.38 is 10.649999999999999 in floats
        assert feature["range_source"] == "data" and feature["type"] == "number"
        assert feature["minimum"] <= values.min() - 0.1 * span + noise
        assert feature["maximum"] >= values.max() + 0.1 * span - noise
        assert feature["minimum"] >= values.min() - 0.11 * span and feature["maximum"] <= values.max() + 0.11 * span


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_the_sample_is_real_rows_keyed_by_feature(packaged, name: str) -> None:
    model, model_dir = packaged(name)
    metadata = metadata_of(model_dir)
    rows = {tuple(row) for row in model.X.tolist()}
    assert 0 < len(metadata["sample"]) <= 20
    for row in metadata["sample"]:
        assert tuple(row[feature] for feature in model.feature_names) in rows


def test_a_range_is_rounded_outwards_to_three_digits_of_its_span() -> None:
    feature = range_from_data("alcohol", np.array([11.03, 14.83]))
    assert (feature.minimum, feature.maximum) == (10.65, 15.21)


@pytest.mark.parametrize("type_", ["number", "integer"])
def test_a_range_widened_beyond_the_largest_float_is_refused(type_: str) -> None:
    with pytest.raises(ValueError, match="range of 'age' from the data, widened by 1e\\+308 times its span, is beyond"):
        range_from_data("age", np.array([20.0, 80.0]), 1e308, type_)


def test_a_declared_range_replaces_the_datas(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    assert own_models.package(model, tmp_path / "wine", "--range", "alcohol=0:20") == 0
    alcohol = metadata_of(tmp_path / "wine")["features"][0]
    assert (alcohol["minimum"], alcohol["maximum"], alcohol["range_source"]) == (0.0, 20.0, "declared")


def test_integer_columns_are_integer_features(tmp_path: Path) -> None:
    model = own_models.with_integer_column(own_models.wine(tmp_path), 4)  # magnesium
    assert own_models.package(model, tmp_path / "wine") == 0
    types = [feature["type"] for feature in metadata_of(tmp_path / "wine")["features"]]
    assert types[4] == "integer" and set(types[:4] + types[5:]) == {"number"}


def run_package(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", "package", *args], cwd=ROOT, capture_output=True, text=True)


# What Python shows on stderr by default: every warning but these (the warnings module's default filters).
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def package_here(*args: str) -> tuple[int, str, str]:
    """``python -m training package ARGS`` run by its ``main`` in this process, which spares starting Python and
    importing scikit-learn for each: (exit status, stdout, stderr), stderr with the warnings the command would
    have shown on it. An exception other than argparse's exit propagates: the command would have shown a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as shown, redirect_stdout(out), redirect_stderr(err):
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in HIDDEN_WARNINGS:
            warnings.filterwarnings("ignore", category=category)
        try:
            status = training_main(["package", *args])
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue() + "".join(f"{w.category.__name__}: {w.message}\n" for w in shown)


def package_arguments(model: own_models.OwnModel, model_dir: Path, *args: str, data: Path | None = None,
                      target: str | None = None) -> list[str]:
    return ["--model", str(model.model_path), "--data", str(data or model.data_path),
            "--target", target or model.target, "--model-dir", str(model_dir), *args]


def refused_in_one_line(status: int, stdout: str, stderr: str, model_dir: Path) -> str:
    """Assert a refusal in one line and no artifact; return that line."""
    assert status == 2, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert not (model_dir / "model.joblib").exists()
    return lines[0]


def refusal(model: own_models.OwnModel, model_dir: Path, *args: str, data: Path | None = None,
            target: str | None = None) -> str:
    """Package with ``args`` (in this process); assert a refusal in one line and no artifact; return that line."""
    return refused_in_one_line(*package_here(*package_arguments(model, model_dir, *args, data=data, target=target)),
                               model_dir)


def test_the_command_packages_and_says_what_it_wrote(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    run = run_package("--model", str(model.model_path), "--data", str(model.data_path), "--target", "progression",
                      "--model-dir", str(tmp_path / "out"), "--name", "progression-v1")
    assert run.returncode == 0, run.stderr
    assert "regression of 'progression' from 10 features" in run.stdout
    assert load_artifact(tmp_path / "out").metadata["name"] == "progression-v1"


def test_a_row_name_given_to_the_command_names_the_rows_in_the_service_s_texts(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    status, _, stderr = package_here(*package_arguments(model, tmp_path / "out", "--row-name", "patient"))
    assert status == 0, stderr
    client = create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "out")}).test_client()
    request = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [0.0, 0.0, 0.0]}]}
    assert "(N patients by age, sex," in client.post("/v2/models/out/infer", json=request).get_json()["error"]
    assert client.get("/openapi.json").get_json()["paths"]["/predict"]["post"]["summary"].startswith(
        "Predict the progression of one patient,")


def test_refuses_an_empty_row_name(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    assert refusal(model, tmp_path / "out", "--row-name", " ") == "error: --row-name must not be empty"


@pytest.mark.parametrize("margin", ["nan", "inf", "-inf", "-0.5"])
def test_refuses_a_range_margin_that_is_not_a_finite_number_of_zero_or_more(tmp_path: Path, margin: str) -> None:
    model = own_models.diabetes(tmp_path)
    line = refusal(model, tmp_path / "out", f"--range-margin={margin}")
    assert line == "error: --range-margin must be a finite number, 0 or more"


def test_refuses_a_range_margin_that_widens_a_range_beyond_the_largest_number(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    line = refusal(model, tmp_path / "out", "--range-margin", "1e308")
    assert "the range of 'age' from the data" in line and "give a smaller --range-margin" in line


def test_refuses_a_model_dir_that_is_a_file(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    (tmp_path / "out").write_text("a file")
    assert refusal(model, tmp_path / "out") == f"error: --model-dir {tmp_path / 'out'} is a file, not a directory"
    assert (tmp_path / "out").read_text() == "a file"


@pytest.mark.parametrize("held", ["model.joblib", "metadata.json"])
def test_refuses_a_model_dir_that_holds_an_artifact_without_overwrite(tmp_path: Path, held: str) -> None:
    model = own_models.diabetes(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / held).write_text("an artifact of before")
    status, _, stderr = package_here(*package_arguments(model, tmp_path / "out"))
    assert status == 2, stderr
    assert stderr.splitlines() == [
        f"error: --model-dir {tmp_path / 'out'} already holds an artifact ({held}); give --overwrite to replace it"]
    assert [path.name for path in (tmp_path / "out").iterdir()] == [held]
    assert (tmp_path / "out" / held).read_text() == "an artifact of before"


def test_overwrite_replaces_the_artifact_in_the_model_dir(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    assert own_models.package(model, tmp_path / "out", "--name", "first") == 0
    assert own_models.package(model, tmp_path / "out", "--name", "second", "--overwrite") == 0
    assert load_artifact(tmp_path / "out").metadata["name"] == "second"


def test_refuses_a_target_that_is_not_a_column(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    assert "has no column 'y'; its columns are age, sex" in refusal(model, tmp_path / "out", target="y")


def test_refuses_a_cell_that_is_not_a_number(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    lines = model.data_path.read_text().splitlines()
    lines[3] = "n/a," + lines[3].split(",", 1)[1]
    model.data_path.write_text("\n".join(lines) + "\n")
    assert "line 4 column 'age': 'n/a' is not a number" in refusal(model, tmp_path / "out")


def test_refuses_data_with_other_features_than_the_model_takes(tmp_path: Path) -> None:
    wine = own_models.wine(tmp_path)
    diabetes = own_models.diabetes(tmp_path)
    line = refusal(diabetes, tmp_path / "out", data=wine.data_path, target="cultivar")
    assert "the model takes 10 features but" in line and "has 13 besides the target" in line


def test_refuses_feature_names_that_differ_from_those_the_model_was_fitted_on(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    # What scikit-learn records when fitted on a data frame whose columns are in another order.
    model.estimator.feature_names_in_ = np.array(["sex", "age", *model.feature_names[2:]], dtype=object)
    joblib.dump(model.estimator, model.model_path)
    assert "the model was fitted on the features sex, age, bmi" in refusal(model, tmp_path / "out")


def test_refuses_an_estimator_that_predicts_nothing(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    joblib.dump(StandardScaler().fit(model.X), model.model_path)
    assert "StandardScaler is neither a classifier nor a regressor" in refusal(model, tmp_path / "out")


def test_refuses_target_values_outside_the_classes(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    model.data_path.write_text(model.data_path.read_text().replace(",class_2\n", ",barolo\n"))
    assert "the target column holds 'barolo', not among the model's classes" in refusal(model, tmp_path / "out")


def test_refuses_data_outside_a_declared_range(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    assert "of 'alcohol'" in refusal(model, tmp_path / "out", "--range", "alcohol=0:12")


def test_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    model.model_path.write_bytes(b"not a pickle")
    assert "cannot be loaded as a model" in refusal(model, tmp_path / "out")


def test_refuses_a_file_that_holds_something_else_than_an_estimator(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    joblib.dump({"a": 1}, model.model_path)
    assert "the model file holds a dict, not a scikit-learn estimator" in refusal(model, tmp_path / "out")


def test_refuses_a_name_that_cannot_be_part_of_a_url(tmp_path: Path) -> None:
    model = own_models.wine(tmp_path)
    assert "model name 'my wine'" in refusal(model, tmp_path / "out", "--name", "my wine")


def test_refuses_a_model_pickled_by_another_scikit_learn(tmp_path: Path, monkeypatch) -> None:
    model = own_models.diabetes(tmp_path)
    # scikit-learn records its version in every estimator it pickles (BaseEstimator.__getstate__).
    monkeypatch.setattr(sklearn.base, "__version__", "1.5.2")
    joblib.dump(model.estimator, model.model_path)
    monkeypatch.undo()
    # The real command: its exit status and its one line (no warning, no traceback) as a shell sees them.
    run = run_package(*package_arguments(model, tmp_path / "out"))
    line = refused_in_one_line(run.returncode, run.stdout, run.stderr, tmp_path / "out")
    assert f"was pickled by scikit-learn 1.5.2 but {sklearn.__version__} is installed" in line


def test_refuses_a_regression_target_that_is_not_finite(tmp_path: Path) -> None:
    model = own_models.diabetes(tmp_path)
    lines = model.data_path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",nan"
    model.data_path.write_text("\n".join(lines) + "\n")
    assert "the target column holds a value that is not finite" in refusal(model, tmp_path / "out")
