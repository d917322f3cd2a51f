"""Which model a run measured: the name, version and task the service reports at ``GET /model``.

The served answer is the record, not the artifact's metadata.json read on this side: it is the only one
that is true for the image's built-in model as well as for an artifact mounted with ``--model-dir``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

MODEL_PATH = "/model"
FETCH_TIMEOUT_S = 10.0


class ModelUnreadable(OSError):
    """``GET /model`` did not answer with a model's metadata; the message says what it answered."""


class ModelChanged(Exception):
    """A configuration served another model than the one its run recorded; the message names both."""


@dataclass(frozen=True)
class ServedModel:
    """A model as the service reports it (the artifact's metadata.json, ``service.probes.model_metadata``)."""

    name: str
    version: str  # the artifact's version: the first 12 hex digits of its model.joblib's SHA-256
    task: str | None = None  # "classification" or "regression"; None when the metadata has no task

    @classmethod
    def from_metadata(cls, metadata: dict) -> ServedModel:
        """The model of a ``GET /model`` body or a metadata.json; raises KeyError or TypeError without name and version."""
        task = metadata.get("task")
        return cls(name=str(metadata["name"]), version=str(metadata["version"]),
                   task=None if task is None else str(task))

    @classmethod
    def from_dict(cls, data: dict | None) -> ServedModel | None:
        """Rebuild a model written with ``dataclasses.asdict`` (None stays None: not recorded)."""
        return None if data is None else cls(**data)

    def describe(self) -> str:
        """The model in words: "iris c869581cb53c (classification)"."""
        return f"{self.name} {self.version}" + (f" ({self.task})" if self.task else "")


def model_words(model: ServedModel | None) -> str:
    """A recorded model for a sentence, "model iris c869581cb53c (classification)", or "model not recorded"
    for a result written before results recorded it (None)."""
    return "model not recorded" if model is None else f"model {model.describe()}"


def fetch_served_model(base_url: str) -> ServedModel:
    """The model behind ``base_url`` (Nginx, e.g. "http://127.0.0.1:8080"), asked at ``GET /model``.

    Raises ModelUnreadable when the answer is not HTTP 200 with JSON naming a model and its version.
    """
    url = base_url.rstrip("/") + MODEL_PATH
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            return ServedModel.from_metadata(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        raise ModelUnreadable(f"{url} answered HTTP {error.code}: cannot tell which model is served") from error
    except (urllib.error.URLError, OSError) as error:
        raise ModelUnreadable(f"{url} did not answer: {getattr(error, 'reason', error)}") from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelUnreadable(f"{url} answered without a model's name and version ({error!r})") from error
