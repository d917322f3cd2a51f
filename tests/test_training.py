"""Training: split, metrics, metadata, estimators, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn

from training.__main__ import main as training_main
from training.artifact import load_artifact, sha256_of
from training.data import FEATURE_NAMES, load_dataset
from training.train import TrainingParams, train


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest"])
def test_each_estimator_learns_iris(estimator: str) -> None:
    result = train(load_dataset(), TrainingParams(estimator))
    assert result.metadata["metrics"]["test_accuracy"] >= 0.85
    assert result.metadata["metrics"]["cv_accuracy_mean"] >= 0.85
    assert result.metadata["estimator"] == estimator


def test_held_out_split_is_stratified_and_seeded() -> None:
    params = TrainingParams("logistic_regression", test_size=0.2)
    first = train(load_dataset(), params).metadata
    second = train(load_dataset(), params).metadata
    assert first["metrics"]["test_rows"] == 30 and first["metrics"]["train_rows"] == 120
    assert first["metrics"] == second["metrics"]
    assert first["self_test"]["expected_class_ids"] == [0, 1, 2]


def test_metadata_describes_features_classes_and_versions() -> None:
    metadata = train(load_dataset(), TrainingParams("logistic_regression")).metadata
    assert [f["name"] for f in metadata["features"]] == list(FEATURE_NAMES)
    assert {f["unit"] for f in metadata["features"]} == {"cm"}
    assert metadata["class_names"] == ["setosa", "versicolor", "virginica"]
    assert metadata["versions"]["scikit-learn"] == sklearn.__version__
    assert metadata["versions"]["numpy"] == np.__version__
    assert metadata["params"]["seed"] == 42
    assert metadata["source"] == "train"


def test_unknown_estimator_and_bad_test_size_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown estimator"):
        train(load_dataset(), TrainingParams("svm"))
    with pytest.raises(ValueError, match="test_size"):
        train(load_dataset(), TrainingParams("logistic_regression", test_size=1.5))


def test_command_writes_a_versioned_artifact_into_model_dir(tmp_path: Path) -> None:
    target = tmp_path / "iris"
    run = subprocess.run(
        [sys.executable, "-m", "training", "--estimator", "random_forest"],
        env={"MODEL_DIR": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )
    metadata = json.loads((target / "metadata.json").read_text())
    assert metadata["sha256"] == sha256_of(target / "model.joblib")
    assert metadata["version"] == metadata["sha256"][:12]
    assert "cross-validation" in run.stdout and metadata["version"] in run.stdout
    assert load_artifact(target).model.predict(np.array([[5.1, 3.5, 1.4, 0.2]]))[0] == 0


def test_command_rejects_an_unknown_estimator(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        training_main(["--estimator", "svm", "--model-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "model.joblib").exists()


def test_command_says_when_it_cannot_write_the_model_dir(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    assert training_main(["--model-dir", str(blocker / "iris")]) == 1  # a traceback would raise here

    printed = capsys.readouterr()
    assert "cannot write the model into" in printed.err
    assert "training" not in printed.out, "said before training, not after"


def test_command_refuses_an_empty_model_dir(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        training_main(["--model-dir", ""])

    assert exit_info.value.code == 2
    assert "argument --model-dir: is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_iris_metadata_states_its_contract() -> None:
    metadata = train(load_dataset(), TrainingParams("logistic_regression")).metadata
    assert metadata["task"] == "classification" and metadata["target"] == "species"
    assert metadata["predict_proba"] is True
    for feature in metadata["features"]:
        assert (feature["type"], feature["minimum"], feature["exclusive_minimum"], feature["maximum"]) == (
            "number", 0.0, True, 30.0)
    assert 0 < len(metadata["sample"]) <= 20
    assert all(set(row) == set(FEATURE_NAMES) for row in metadata["sample"])
