"""Render kustomizations with the real kustomize and validate them against the Kubernetes API schemas."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S_DIR = ROOT / "deploy" / "k8s"
# The oldest Kubernetes the manifests promise (docs/scale-out.md, "Kubernetes") and the newest
# whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())
RENDER_TIMEOUT_S = 60


def kubectl() -> str:
    """The kubectl to render with: $KUBECTL (the Makefile passes .tools/kubectl) or a path on PATH; fails if absent."""
    configured = os.environ.get("KUBECTL", ".tools/kubectl")
    found = str(ROOT / configured) if "/" in configured else shutil.which(configured)
    if found is None or not os.access(found, os.X_OK):
        pytest.fail(f"kubectl not found at {configured!r}: run `make tools`, or set KUBECTL to a kubectl >= 1.27")
    return found


def render(directory: Path) -> list[dict]:
    """``kubectl kustomize DIRECTORY`` as a list of resources; fails the test with kustomize's error."""
    completed = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=RENDER_TIMEOUT_S
    )
    if completed.returncode != 0:
        pytest.fail(f"kustomize could not render {directory}:\n{completed.stderr}")
    return [document for document in yaml.safe_load_all(completed.stdout) if document]


def schema_errors(resource: dict, version: str) -> list[str]:
    """Why ``resource`` is not valid for Kubernetes ``version`` (strict: unknown fields too); empty when it is."""
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{resource['kind']}/{resource['metadata']['name']} {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [error.message]
    return []


def by_kind(resources: list[dict]) -> dict[str, dict]:
    """The rendered resources keyed by kind (each kustomization here renders one of each)."""
    kinds = [resource["kind"] for resource in resources]
    assert len(kinds) == len(set(kinds)), f"expected one resource per kind, got {kinds}"
    return {resource["kind"]: resource for resource in resources}
