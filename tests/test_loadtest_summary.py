"""``python -m loadtest.summary``: a finished run's summary, or one error line saying what is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loadtest.results import write_verdict
from loadtest.slo import RunStats, Slo, Verdict
from loadtest.summary import main

RECORDED_STATS = Path(__file__).parent / "fixtures" / "deploy" / "reference-run" / "01-1x2cpu-1000M" / "locust_stats.csv"
SLO = Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000, min_rps=10)


def recorded_run(directory: Path) -> Path:
    """A run's prefix in ``directory``: Locust's recorded stats and the verdict the locustfile writes."""
    directory.mkdir(exist_ok=True)
    prefix = directory / "run"
    shutil.copy(RECORDED_STATS, f"{prefix}_stats.csv")
    stats = RunStats(requests=100, failures=0, requests_per_s=10.0, p50_ms=3, p95_ms=8, p99_ms=20)
    write_verdict(Path(f"{prefix}_verdict.json"), Verdict(True, ()), stats, SLO, [], 10.0)
    return prefix


def test_a_finished_run_is_summarised_from_its_prefix_or_its_directory(tmp_path: Path, capsys) -> None:
    prefix = recorded_run(tmp_path / "20260101T000000")

    assert main([str(prefix)]) == 0
    from_prefix = capsys.readouterr().out
    assert main([str(prefix.parent)]) == 0
    assert capsys.readouterr().out == from_prefix
    assert from_prefix.startswith("requests    ") and "verdict     SLO met" in from_prefix


@pytest.mark.parametrize(("damage", "words"), [
    ("no stats", "run_stats.csv: No such file or directory"),
    ("stats not UTF-8", "run_stats.csv: not UTF-8 text"),
    ("stats value not a number", "the Aggregated row holds a value that is not a number"),
    ("verdict a list", "run_verdict.json is not the verdict a headless run writes"),
    ("verdict without slo", "run_verdict.json is not the verdict a headless run writes"),
    ("verdict not JSON", "run_verdict.json is not the verdict a headless run writes"),
])
def test_damaged_results_are_one_error_line_and_exit_2(tmp_path: Path, capsys, damage: str, words: str) -> None:
    prefix = recorded_run(tmp_path)
    stats, verdict = Path(f"{prefix}_stats.csv"), Path(f"{prefix}_verdict.json")
    if damage == "no stats":
        stats.unlink()
    elif damage == "stats not UTF-8":
        stats.write_bytes(b"\xff\xfe" + stats.read_bytes())
    elif damage == "stats value not a number":
        aggregated = next(line for line in stats.read_text().splitlines() if ",Aggregated," in line)
        stats.write_text(stats.read_text().replace(aggregated, ",Aggregated,many" + ",0" * 20))
    elif damage == "verdict a list":
        verdict.write_text("[1, 2]")
    elif damage == "verdict without slo":
        verdict.write_text('{"passed": true, "reasons": []}')
    else:
        verdict.write_text("{")

    assert main([str(prefix)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: no complete load test results at {prefix}: ") and words in line
