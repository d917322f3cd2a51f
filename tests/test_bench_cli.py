"""``python -m bench`` refuses bad arguments before it starts any server.

The refusals are checked through ``bench.__main__.main`` in this process: each
run of the command would spend seconds starting Python and importing
scikit-learn before argparse answers. One run of the real command checks that a
refusal reaches the shell as exit status 2 and one line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import main
from training.artifact import RETRAIN_HINT

ROOT = Path(__file__).resolve().parent.parent
# Enough for argparse to answer; a run that got past it would start Gunicorn and take far longer.
ARGPARSE_TIMEOUT_S = 30
SKIP_THE_SERVERS = ("--skip-nginx", "--skip-workers", "--skip-memory")


def one_error_line(stderr: str, option: str) -> bool:
    """Whether ``stderr`` holds exactly one line with "error:", and that line names ``option``."""
    errors = [line for line in stderr.splitlines() if "error:" in line]
    return len(errors) == 1 and f"argument {option}:" in errors[0]


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
def test_bad_value_exits_2_with_one_line_naming_the_option(option: str, value: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:  # anything else raised would be a traceback
        main([option, value, "--out-dir", str(tmp_path), *SKIP_THE_SERVERS])
    assert exit_info.value.code == 2
    printed = capsys.readouterr()
    assert one_error_line(printed.err, option), printed.err
    assert printed.out == ""  # no progress line: nothing was measured or started
    assert not any(tmp_path.iterdir())


def test_the_command_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--repeats", "0", "--out-dir", str(tmp_path),
                             *SKIP_THE_SERVERS],
                            cwd=ROOT, capture_output=True, text=True, timeout=ARGPARSE_TIMEOUT_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_error_line(result.stderr, "--repeats"), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not any(tmp_path.iterdir())


def test_help_shows_defaults(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal; a command's piped output gets 80
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    for default in ("(default: 4)", "(default: 3)", "(default: 6)"):
        assert default in shown


def test_an_artifact_without_its_metadata_is_refused_in_one_line(model_dir: Path, tmp_path: Path, capsys) -> None:
    half = tmp_path / "half"
    half.mkdir()
    (half / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())

    assert main(["--model-dir", str(half), "--out-dir", str(tmp_path / "out"), *SKIP_THE_SERVERS]) == 2

    assert capsys.readouterr().err.splitlines() == [f"error: model artifact not found: {half}/metadata.json is missing; "
                                                    f"{RETRAIN_HINT}"]
    assert not (tmp_path / "out").exists()


def test_an_out_dir_that_cannot_be_written_is_refused_before_measuring(model_dir: Path, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")

    assert main(["--model-dir", str(model_dir), "--out-dir", str(a_file), *SKIP_THE_SERVERS]) == 2

    printed = capsys.readouterr()
    assert printed.err.splitlines() == [f"error: cannot write reports into {a_file}: Not a directory"]
    assert printed.out == ""
