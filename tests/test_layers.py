"""The packages import along the data flow: training → service → nginx → loadtest → deploy, with stack and bench
beside loadtest (docs/development.md): the bench and the shared harness never import the experiments, and test
modules share through conftest.py and project code, not through each other. The load test runs in the Locust image
(compose.locust.yaml), which has neither numpy nor scikit-learn: it imports the standard library, Locust and the
contract reader training/fields.py alone, and its containers mount that reader."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# package -> the packages it must not import
FORBIDDEN = {
    "training": {"service", "loadtest", "deploy", "bench", "stack"},
    "service": {"loadtest", "deploy", "bench", "stack"},
    "bench": {"deploy"},
    "stack": {"deploy", "bench", "loadtest"},
    "loadtest": {"deploy", "bench", "stack"},
}
# What the Locust image (compose.locust.yaml) holds besides the standard library: Locust and what it installs.
LOCUST_IMAGE_PACKAGES = {"locust", "gevent", "psutil"}
# The one module of training/ the load test may import: it reads the model's contract with the standard library.
CONTRACT_READER = "training.fields"


def imported_packages(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_downstream(package: str) -> None:
    wrong = {f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / package).rglob("*.py")
             for name in imported_packages(path) if name.split(".")[0] in FORBIDDEN[package]}
    assert wrong == set()


def test_test_modules_do_not_import_one_another() -> None:
    wrong = {f"{path.name}: {name}" for path in (ROOT / "tests").glob("test_*.py")
             for name in imported_packages(path) if name.startswith("tests.test_")}
    assert wrong == set()


def test_the_load_test_imports_only_what_the_locust_image_has() -> None:
    modules = [*sorted((ROOT / "loadtest").glob("*.py")), ROOT / "training" / "fields.py"]
    allowed = set(sys.stdlib_module_names) | LOCUST_IMAGE_PACKAGES | {"loadtest"}
    wrong = {f"{path.relative_to(ROOT)}: {name}" for path in modules for name in imported_packages(path)
             if name.split(".")[0] not in allowed and name != CONTRACT_READER}
    assert wrong == set()


def test_the_locust_containers_mount_the_contract_reader() -> None:
    compose = yaml.safe_load((ROOT / "compose.locust.yaml").read_text(encoding="utf-8"))
    reader = "./" + CONTRACT_READER.replace(".", "/") + ".py"
    for service in ("master", "worker"):
        sources = {volume.split(":")[0] for volume in compose["services"][service]["volumes"]}
        assert {"./loadtest", "./training/__init__.py", reader} <= sources, service
