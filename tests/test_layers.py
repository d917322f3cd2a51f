"""The packages import along the data flow: training → service → nginx → loadtest → deploy, with stack and bench
beside loadtest (docs/development.md): the bench and the shared harness never import the experiments, and test
modules share through conftest.py and project code, not through each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the packages it must not import
FORBIDDEN = {
    "training": {"service", "loadtest", "deploy", "bench", "stack"},
    "service": {"loadtest", "deploy", "bench", "stack"},
    "bench": {"deploy"},
    "stack": {"deploy", "bench", "loadtest"},
    "loadtest": {"deploy", "bench", "stack"},
}


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
