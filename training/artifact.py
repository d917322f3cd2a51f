"""The model artifact on disk: ``model.joblib`` plus ``metadata.json`` beside it.

The version is the first 12 hex digits of the SHA-256 of ``model.joblib``, so
two artifacts with the same version hold the same bytes. Loading checks that
hash, the scikit-learn version and the contract fields (``training.fields``)
before unpickling anything.

``metadata["source"]`` records what wrote the artifact: ``"train"`` (``python -m
training``, the Iris model) or ``"package"`` (``python -m training package``, a
model fitted elsewhere); what to run about an unusable artifact follows from it
(``remedy``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from training.fields import Contract, ContractError, contract_from_metadata

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
DEFAULT_MODEL_DIR = Path("models/iris")
VERSION_LENGTH = 12
RETRAIN_HINT = "run `make model` (or `python -m training`) to train a new one"
REPACKAGE_HINT = (f"package it again with `python -m training package` under scikit-learn {sklearn.__version__}, "
                  "the version installed here")
READABLE_HINT = "check the files' permissions: the user the service runs as must be able to read them"
# What wrote an artifact, as ``metadata["source"]`` records it.
TRAINED = "train"
PACKAGED = "package"


class ArtifactError(RuntimeError):
    """The artifact is missing, unreadable, altered, or from another scikit-learn."""


@dataclass(frozen=True)
class Artifact:
    """A loaded, verified model and its metadata."""

    model: Any
    metadata: dict[str, Any]
    contract: Contract

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def model_dir_from_env() -> Path:
    """Return ``$MODEL_DIR`` or the default ``models/iris``."""
    return Path(os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)


def versions() -> dict[str, str]:
    """``metadata["versions"]`` for an artifact written now: the Python, scikit-learn and numpy
    installed here. Loading refuses an artifact whose ``scikit-learn`` differs from the installed one."""
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600; give the file the mode a plain open() would, so a
        # service running as another user (a container's non-root user) can read it.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_artifact(model: Any, metadata: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """Write the model and its metadata into ``model_dir``; return the metadata as written.

    Adds ``sha256``, ``version`` and ``files`` to ``metadata``. Each file is
    written to a temporary name and renamed, so a reader never sees half a file.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_FILE
    _atomic_write(model_path, lambda tmp: joblib.dump(model, tmp))
    digest = sha256_of(model_path)
    full = {
        **metadata,
        "version": digest[:VERSION_LENGTH],
        "sha256": digest,
        "files": {"model": MODEL_FILE, "metadata": METADATA_FILE},
    }
    _atomic_write(
        model_dir / METADATA_FILE,
        lambda tmp: tmp.write_text(json.dumps(full, indent=2, sort_keys=True) + "\n"),
    )
    return full


def remedy(metadata: Any) -> str:
    """What to run about an unusable artifact whose parsed ``metadata.json`` is ``metadata``:
    ``REPACKAGE_HINT`` when its ``source`` is ``PACKAGED``, else ``RETRAIN_HINT``.

    An artifact packaged before ``source`` was recorded has none; it is known by
    ``range_margin``, which only packaging writes (``training.package``).
    """
    if not isinstance(metadata, dict):
        return RETRAIN_HINT
    source = metadata.get("source", PACKAGED if "range_margin" in metadata else TRAINED)
    return REPACKAGE_HINT if source == PACKAGED else RETRAIN_HINT


def load_artifact(model_dir: Path) -> Artifact:
    """Load and verify the artifact in ``model_dir``.

    Raises ``ArtifactError`` with a one-line reason and what to do when a
    file is missing or cannot be read (``READABLE_HINT`` when permission is
    denied), the metadata is not valid JSON, the model's SHA-256 does not match
    the metadata, the artifact was written by another scikit-learn version than
    the installed one, the contract fields are missing or malformed, or the
    model cannot be unpickled; what to run follows who wrote it (``remedy``).
    """
    model_path = model_dir / MODEL_FILE
    metadata_path = model_dir / METADATA_FILE
    for path in (model_path, metadata_path):
        if not path.is_file():
            raise ArtifactError(f"model artifact not found: {path} is missing; {RETRAIN_HINT}")
    metadata: Any = None
    try:
        metadata = json.loads(metadata_path.read_text())
        expected_sha = metadata["sha256"]
        trained_with = metadata["versions"]["scikit-learn"]
        actual_sha = sha256_of(model_path)
    except OSError as exc:
        hint = READABLE_HINT if isinstance(exc, PermissionError) else remedy(metadata)
        raise ArtifactError(f"model artifact in {model_dir} cannot be read ({exc.strerror}); {hint}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"model metadata {metadata_path} is corrupt ({exc!r}); {remedy(metadata)}") from None
    if actual_sha != expected_sha:
        raise ArtifactError(
            f"model artifact {model_path} does not match its metadata "
            f"(sha256 {actual_sha[:VERSION_LENGTH]} != {str(expected_sha)[:VERSION_LENGTH]}); {remedy(metadata)}"
        )
    if trained_with != sklearn.__version__:
        raise ArtifactError(
            f"model artifact was written by scikit-learn {trained_with} but {sklearn.__version__} "
            f"is installed; {remedy(metadata)}"
        )
    try:
        contract = contract_from_metadata(metadata)
    except ContractError as exc:
        raise ArtifactError(f"model metadata {metadata_path} does not describe the model's inputs and outputs "
                            f"({exc}); {remedy(metadata)}") from None
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling can raise almost anything on a damaged file
        raise ArtifactError(f"model artifact {model_path} cannot be loaded ({type(exc).__name__}); "
                            f"{remedy(metadata)}") from None
    return Artifact(model=model, metadata=metadata, contract=contract)
