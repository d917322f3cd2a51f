"""Loading refuses missing, corrupt, altered and foreign-version artifacts with one line."""

from __future__ import annotations

import errno
import json
import re
import shutil
from pathlib import Path

import pytest
import sklearn

from training import artifact
from training.artifact import ArtifactError, load_artifact


def test_a_good_artifact_loads(model_dir: Path) -> None:
    artifact = load_artifact(model_dir)
    assert artifact.version == artifact.metadata["sha256"][:12]


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"not found.*make model"):
        load_artifact(tmp_path / "nowhere")


def test_altered_model_file_fails_the_hash_check(model_copy: Path) -> None:
    with (model_copy / "model.joblib").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="does not match its metadata"):
        load_artifact(model_copy)


def test_corrupt_model_file_with_matching_hash_cannot_load(model_copy: Path) -> None:
    from training.artifact import sha256_of

    (model_copy / "model.joblib").write_bytes(b"not a pickle")
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["sha256"] = sha256_of(model_copy / "model.joblib")
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="cannot be loaded"):
        load_artifact(model_copy)


def test_corrupt_metadata(model_copy: Path) -> None:
    (model_copy / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="metadata .* is corrupt"):
        load_artifact(model_copy)


def test_other_scikit_learn_version_is_refused(model_copy: Path) -> None:
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["versions"]["scikit-learn"] = "0.24.2"
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="written by scikit-learn 0.24.2"):
        load_artifact(model_copy)


def test_files_are_readable_by_other_users(model_dir: Path) -> None:
    for name in ("model.joblib", "metadata.json"):
        assert (model_dir / name).stat().st_mode & 0o044 == 0o044, name



@pytest.mark.parametrize("change, reason", [
    (lambda m: m.pop("task"), "metadata has no 'task'"),
    (lambda m: m["features"][0].update(type="string"), "features[0].type must be one of number, integer"),
    (lambda m: m["features"][1].update(minimum=40.0), "features[1]: minimum and maximum must be finite"),
    (lambda m: m.update(class_names=["setosa"]), "class_names must list two or more distinct classes"),
    (lambda m: m.update(row_name=" "), "row_name must be a non-empty string"),
])
def test_metadata_without_a_usable_contract_is_refused(model_copy: Path, change, reason: str) -> None:
    metadata = json.loads((model_copy / "metadata.json").read_text())
    change(metadata)
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=re.escape(f"does not describe the model's inputs and outputs ({reason}")):
        load_artifact(model_copy)


def test_a_trained_artifact_of_another_scikit_learn_says_to_train_a_new_one(model_copy: Path) -> None:
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["versions"]["scikit-learn"] = "0.24.2"
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError) as refused:
        load_artifact(model_copy)
    assert str(refused.value).endswith("is installed; run `make model` (or `python -m training`) to train a new one")


@pytest.mark.parametrize("damage", ["version", "altered"])
def test_a_packaged_artifact_says_to_package_it_again_under_the_installed_scikit_learn(
        packaged, tmp_path: Path, damage: str) -> None:
    _, packaged_dir = packaged("wine")
    copy = Path(shutil.copytree(packaged_dir, tmp_path / "wine"))
    if damage == "version":
        metadata = json.loads((copy / "metadata.json").read_text())
        metadata["versions"]["scikit-learn"] = "1.5.2"
        (copy / "metadata.json").write_text(json.dumps(metadata))
    else:
        with (copy / "model.joblib").open("ab") as handle:
            handle.write(b"\0")
    with pytest.raises(ArtifactError) as refused:
        load_artifact(copy)
    assert str(refused.value).endswith(
        f"; package it again with `python -m training package` under scikit-learn {sklearn.__version__}, "
        "the version installed here")
    assert "make model" not in str(refused.value)


@pytest.mark.parametrize("changes, hint", [
    ({"source": "package"}, artifact.REPACKAGE_HINT),
    ({"source": "train", "range_margin": 0.1}, artifact.RETRAIN_HINT),
    # Written before ``source`` was recorded: packaging alone wrote ``range_margin``.
    ({"source": None, "range_margin": 0.1}, artifact.REPACKAGE_HINT),
    ({"source": None}, artifact.RETRAIN_HINT),
])
def test_what_to_run_follows_the_recorded_source(model_copy: Path, changes: dict, hint: str) -> None:
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata.update(changes)
    if metadata["source"] is None:
        del metadata["source"]
    metadata["versions"]["scikit-learn"] = "0.24.2"
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError) as refused:
        load_artifact(model_copy)
    assert str(refused.value).endswith(f"is installed; {hint}")


def test_an_unreadable_artifact_says_to_check_its_permissions(model_copy: Path, monkeypatch) -> None:
    def denied(path: Path) -> str:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    # Tests may run as root, whom file modes do not stop: the read itself is refused instead.
    monkeypatch.setattr(artifact, "sha256_of", denied)
    with pytest.raises(ArtifactError) as refused:
        load_artifact(model_copy)
    assert str(refused.value) == (f"model artifact in {model_copy} cannot be read (Permission denied); check the "
                                  "files' permissions: the user the service runs as must be able to read them")
