"""``python -m bench`` refuses bad arguments before it starts any server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training.artifact import RETRAIN_HINT

ROOT = Path(__file__).resolve().parent.parent
# Enough for argparse to answer; a run that got past it would start Gunicorn and take far longer.
ARGPARSE_TIMEOUT_S = 30


@pytest.mark.parametrize(("option", "value"), [
    ("--repeats", "0"),
    ("--repeats", "-1"),
    ("--repeats", "two"),
    ("--run-s", "0"),
    ("--run-s", "-4"),
    ("--run-s", "0.5"),
    ("--latency-s", "0"),
    ("--latency-s", "-6"),
    ("--latency-s", "1"),
    ("--latency-s", "2.5"),
    ("--latency-s", "99999999999999999999"),
    ("--run-s", "301"),
    ("--repeats", "1000"),
    ("--rounds", "0"),
    ("--rounds", "61"),
    ("--round-s", "0"),
    ("--round-s", "0.5"),
])
def test_bad_value_exits_2_with_one_line_naming_the_option(option: str, value: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", option, value, "--out-dir", str(tmp_path),
         "--skip-nginx", "--skip-workers", "--skip-memory"],
        cwd=ROOT, capture_output=True, text=True, timeout=ARGPARSE_TIMEOUT_S,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {option}:" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no progress line: nothing was measured or started
    assert not any(tmp_path.iterdir())


def test_help_shows_defaults() -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=ARGPARSE_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    for default in ("(default: 4)", "(default: 3)", "(default: 6)"):
        assert default in result.stdout


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args, "--skip-nginx", "--skip-workers", "--skip-memory"],
                          cwd=ROOT, capture_output=True, text=True, timeout=ARGPARSE_TIMEOUT_S)


def test_an_artifact_without_its_metadata_is_refused_in_one_line(model_dir: Path, tmp_path: Path) -> None:
    half = tmp_path / "half"
    half.mkdir()
    (half / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())

    result = run_bench("--model-dir", str(half), "--out-dir", str(tmp_path / "out"))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: model artifact not found: {half}/metadata.json is missing; "
                                          f"{RETRAIN_HINT}"]
    assert not (tmp_path / "out").exists()


def test_an_out_dir_that_cannot_be_written_is_refused_before_measuring(model_dir: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")

    result = run_bench("--model-dir", str(model_dir), "--out-dir", str(a_file))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: cannot write reports into {a_file}: Not a directory"]
    assert result.stdout == ""
