"""The model artifact on disk: ``model.joblib`` plus ``metadata.json`` beside it.

The version is the first 12 hex digits of the SHA-256 of ``model.joblib``, so
two artifacts with the same version hold the same bytes. Loading checks that
hash, the scikit-learn version and the contract fields (``training.contract``)
before unpickling anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn

from training.contract import Contract, ContractError, contract_from_metadata

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
DEFAULT_MODEL_DIR = Path("models/iris")
VERSION_LENGTH = 12
RETRAIN_HINT = "run `make model` (or `python -m training`) to train a new one"
REPACKAGE_HINT = "package yours again with `python -m training package`"


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


def load_artifact(model_dir: Path) -> Artifact:
    """Load and verify the artifact in ``model_dir``.

    Raises ``ArtifactError`` with a one-line reason and what to run when a
    file is missing, the metadata is not valid JSON, the model's SHA-256 does
    not match the metadata, the artifact was written by another scikit-learn
    version than the installed one, the contract fields are missing or
    malformed, or the model cannot be unpickled.
    """
    model_path = model_dir / MODEL_FILE
    metadata_path = model_dir / METADATA_FILE
    for path in (model_path, metadata_path):
        if not path.is_file():
            raise ArtifactError(f"model artifact not found: {path} is missing; {RETRAIN_HINT}")
    try:
        metadata = json.loads(metadata_path.read_text())
        expected_sha = metadata["sha256"]
        trained_with = metadata["versions"]["scikit-learn"]
        actual_sha = sha256_of(model_path)
    except OSError as exc:
        raise ArtifactError(f"model artifact in {model_dir} cannot be read ({exc.strerror}); {RETRAIN_HINT}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"model metadata {metadata_path} is corrupt ({exc!r}); {RETRAIN_HINT}") from None
    if actual_sha != expected_sha:
        raise ArtifactError(
            f"model artifact {model_path} does not match its metadata "
            f"(sha256 {actual_sha[:VERSION_LENGTH]} != {str(expected_sha)[:VERSION_LENGTH]}); {RETRAIN_HINT}"
        )
    if trained_with != sklearn.__version__:
        raise ArtifactError(
            f"model artifact was written by scikit-learn {trained_with} but {sklearn.__version__} "
            f"is installed; {RETRAIN_HINT}"
        )
    try:
        contract = contract_from_metadata(metadata)
    except ContractError as exc:
        raise ArtifactError(f"model metadata {metadata_path} does not describe the model's inputs and outputs "
                            f"({exc}); {RETRAIN_HINT}, or {REPACKAGE_HINT}") from None
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling can raise almost anything on a damaged file
        raise ArtifactError(f"model artifact {model_path} cannot be loaded ({type(exc).__name__}); {RETRAIN_HINT}") from None
    return Artifact(model=model, metadata=metadata, contract=contract)
