"""Reports from a recorded run: results.md, results.csv, results.json, the plots and the recommendation.

The fixtures are the Locust statistics (``locust_stats.csv``, ``locust_failures.csv``)
and the Docker stats samples (``samples.csv``) that ``python -m deploy run`` recorded for the
reference matrix on a 2-CPU host shared with other work. What the engine said
besides (workers, OOM events, restarts) is in RECORDED, copied from that run.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from deploy.__main__ import main
from deploy.matrix import load_matrix
from deploy.outcome import LoadMeasurements, measured_result
from deploy.report import write_reports
from deploy.results import RESULT_FILE, artifacts_dirname, load_results, save_result
from deploy.rundir import Host, Plan, create_run_dir, read_plan
from deploy.sampling import read_samples
from loadtest.runner import main_failure
from loadtest.slo import read_stats_csv
from tests.conftest import PNG_SIGNATURE

RECORDED_RUN = Path(__file__).resolve().parent / "fixtures" / "deploy" / "reference-run"
# The reference matrix as that run read it (its run directory's matrix.toml).
REFERENCE = RECORDED_RUN / "matrix.toml"
HOST = Host(cpus=2, memory_bytes=25_270_000_000, docker_version="20.10.24+dfsg1", cgroup_version="1", os="Debian GNU/Linux 12")
# index -> (Gunicorn workers per replica, OOM events, restarts, generator saturated), as the run recorded them.
RECORDED = {
    1: ((2,), 0, 0, False),
    2: ((1,), 1, 0, False),
    3: ((1,), 0, 0, False),
    4: ((1,), 0, 0, False),
    5: ((1, 1, 1), 0, 0, False),
    6: ((1, 1, 1), 0, 0, False),
    7: ((2, 2, 2), 0, 0, False),
}


def aggregated(path: Path) -> dict[str, str]:
    """The Aggregated row of a Locust stats CSV, read here independently of loadtest.slo."""
    with path.open(newline="", encoding="utf-8") as handle:
        return next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory of the reference matrix holding the recorded files and each configuration's result."""
    matrix = load_matrix(REFERENCE)
    plan = Plan(matrix=str(REFERENCE), selected=tuple(range(1, 8)), started_at="2026-11-30T05:33:25+00:00", host=HOST)
    directory = create_run_dir(tmp_path, matrix, plan)
    for configuration in matrix.configurations:
        name = artifacts_dirname(configuration.index, configuration.name)
        target = shutil.copytree(RECORDED_RUN / name, directory / name)
        workers, oom_kills, restarts, saturated = RECORDED[configuration.index]
        measured = LoadMeasurements(
            stats=read_stats_csv(target / "locust_stats.csv"), samples=read_samples(target / "samples.csv"),
            workers_per_replica=workers, oom_kills=oom_kills, restarts=restarts, generator_saturated=saturated,
            main_failure=main_failure(target / "locust_failures.csv"),
        )
        result = measured_result(configuration, matrix.slo, measured, started_at=plan.started_at, artifacts=name,
                                 ready_s=8.0)
        save_result(result, target)
    return directory


@pytest.fixture
def written(run_dir: Path) -> Path:
    write_reports(run_dir, load_matrix(run_dir / "matrix.toml"), read_plan(run_dir), load_results(run_dir))
    return run_dir


def table_rows(markdown: str) -> dict[int, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0].isdigit():
            rows[int(cells[0])] = cells
    return rows


def test_the_table_has_a_row_per_configuration_with_locusts_figures(written):
    rows = table_rows((written / "results.md").read_text(encoding="utf-8"))
    assert sorted(rows) == list(range(1, 8))
    for index, cells in rows.items():
        name = artifacts_dirname(index, load_matrix(REFERENCE).configurations[index - 1].name)
        locust = aggregated(RECORDED_RUN / name / "locust_stats.csv")
        failed = int(locust["Failure Count"]) / int(locust["Request Count"])
        assert cells[5] == f"{float(locust['Requests/s']):.1f}"
        assert cells[6:9] == [f"{float(locust[p]):.0f}" for p in ("50%", "95%", "99%")]
        assert cells[9] == f"{failed:.2%}"
    assert rows[6][1:5] == ["3 × 1 CPU / 500M", "3", "1500M", "1, 1, 1"]


def test_verdicts_carry_their_marks_and_reasons(written):
    rows = table_rows((written / "results.md").read_text(encoding="utf-8"))
    assert rows[2][12].startswith("❌ OOM-killed 1 time(s): 1 worker(s) + master per replica")
    assert rows[2][11].endswith("/ 128M (91%)")
    assert rows[1][12] == ("❌ p95 630 ms > 300 ms; p99 1500 ms > 1000 ms; 114.0 requests/s < 120 requests/s; "
                           "replicas averaged 17% CPU of a 200% limit: the wait was outside them")
    assert rows[5][12] == "❌ 64.3% failed requests > 1.0%; mostly HTTP 502 bad_gateway (88% of failures)"
    assert rows[6][12].startswith("⚠️ p95 300 ms is within 20% of 300 ms")
    assert rows[3][12].startswith("✅ p95 99 ms, p99 240 ms")


def test_the_recommendation_is_the_cheapest_pass_and_answers_one_against_three(written):
    markdown = (written / "results.md").read_text(encoding="utf-8")
    # Passing rows: 1 × 0.35 (0.35 CPU), 1 × 0.5 (0.5 CPU), 3 × 2 (6 CPU).
    assert "**Recommended: 1 × 0.35 CPU / 192M** — the cheapest configuration that passes (0.35 CPU, 192M in total)" \
        in markdown
    assert "- 3 × 1 CPU / 500M (3 CPU) > 1 × 2 CPU / 1000M (2 CPU): ⚠️ 135 req/s, p95 300 ms" in markdown
    assert "3 × 1 CPU / 500M asks for 3 CPU on a 2-CPU host" in markdown
    assert "No replicated configuration has exactly the total CPU of a single-instance one" in markdown
    assert "![Throughput and p95 latency per configuration](throughput_latency.png)" in markdown


def test_csv_and_json_hold_every_figure_of_every_row(written):
    with (written / "results.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["index"]) for row in rows] == list(range(1, 8))
    for column in ("total_cpus", "total_memory_bytes", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "failure_ratio",
                   "cpu_percent_mean", "throttled_ratio", "memory_peak_bytes", "memory_peak_ratio", "oom_kills",
                   "restarts", "workers_per_replica", "verdict", "reason"):
        assert all(row[column] != "" for row in rows), column
    assert rows[6]["workers_per_replica"] == "2;2;2"
    document = json.loads((written / "results.json").read_text(encoding="utf-8"))
    assert document["recommended"] == "1x0.35cpu-192M"
    assert document["slo"] == {"max_failure_ratio": 0.01, "p95_ms": 300.0, "p99_ms": 1000.0, "min_rps": 120.0}
    assert document["host"]["cpus"] == 2
    assert [row["verdict"] for row in document["configurations"]] == ["fail", "fail", "pass", "pass", "fail", "marginal", "pass"]
    assert document["configurations"][1]["containers"]["oom_kills"] == 1


def test_plots_are_pngs(written):
    for name in ("throughput_latency.png", "memory.png"):
        data = (written / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def test_the_report_command_rewrites_the_reports_from_the_results(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "**Recommended: 1 × 0.35 CPU / 192M**" in printed
    assert (run_dir / "results.md").read_text(encoding="utf-8").count("\n| ") == 8  # header and seven rows


def test_the_report_command_judges_again_under_an_edited_slo(run_dir, capsys):
    matrix_copy = run_dir / "matrix.toml"
    matrix_copy.write_text(matrix_copy.read_text(encoding="utf-8").replace("p95_ms = 300", "p95_ms = 50"), encoding="utf-8")
    assert main(["report", str(run_dir)]) == 0
    rows = table_rows((run_dir / "results.md").read_text(encoding="utf-8"))
    assert rows[3][12].startswith("❌ p95 99 ms > 50 ms")
    assert rows[5][12].startswith("❌ 64.3% failed requests > 1.0%")
    assert json.loads((run_dir / "03-1x0.35cpu-192M" / RESULT_FILE).read_text(encoding="utf-8"))["verdict"] == "fail"
    assert "**No configuration passed the SLO.**" in capsys.readouterr().out


def test_the_report_command_keeps_the_generator_saturation_the_run_recorded(run_dir, capsys):
    path = run_dir / artifacts_dirname(3, "1x0.35cpu-192M") / RESULT_FILE
    recorded = json.loads(path.read_text(encoding="utf-8"))
    assert recorded["verdict"] == "pass"
    path.write_text(json.dumps(recorded | {"generator_saturated": True}), encoding="utf-8")
    assert main(["report", str(run_dir)]) == 0
    again = json.loads(path.read_text(encoding="utf-8"))
    assert (again["verdict"], again["generator_saturated"]) == ("marginal", True)
    assert "load generator saturated: the figures may understate the service" in again["reason"]


def test_a_configuration_measured_again_keeps_its_earlier_attempt_in_the_report(run_dir, capsys):
    name = artifacts_dirname(5, "3x0.5cpu-250M")
    shutil.copytree(run_dir / name, run_dir / f"{name}.superseded-20261130T070000Z")
    assert main(["report", str(run_dir)]) == 0
    markdown = (run_dir / "results.md").read_text(encoding="utf-8")
    assert "Configuration 5 was measured again (`--redo`); its attempt of 2026-11-30T05:33:25+00:00 (❌ 64.3% failed" \
        in markdown
    assert f"is kept in `{name}.superseded-20261130T070000Z/`" in markdown
    assert len(table_rows(markdown)) == 7


def test_the_report_of_a_partly_finished_run_says_what_is_missing(run_dir, capsys):
    shutil.rmtree(run_dir / artifacts_dirname(7, "3x2cpu-1000M"))
    assert not list(run_dir.glob(f"07-*/{RESULT_FILE}"))
    assert main(["report", str(run_dir)]) == 0
    assert "1 configuration(s) have no result yet; finish with --resume" in capsys.readouterr().err
    assert len(table_rows((run_dir / "results.md").read_text(encoding="utf-8"))) == 6


def report_error(run_dir: Path, capsys, code: int = 2) -> str:
    """Run `report` on a damaged run directory; check the exit code, one error line, no traceback; return the line."""
    exit_code = main(["report", str(run_dir)])
    err = capsys.readouterr().err
    assert exit_code == code, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def kept_files(run_dir: Path) -> dict[str, bytes]:
    return {str(path.relative_to(run_dir)): path.read_bytes() for path in sorted(run_dir.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(("damage", "reason"), [
    (b"not json", "not a result.json written by `deploy run` (Expecting value: line 1 column 1 (char 0))"),
    (b"[]", "not a result.json written by `deploy run` ('list' object has no attribute 'items')"),
    (b'{"index": 3}', "not a result.json written by `deploy run` (ConfigurationResult.__init__() missing"),
])
def test_report_names_a_damaged_result_and_writes_nothing(run_dir, capsys, damage, reason):
    damaged = run_dir / artifacts_dirname(3, "1x0.35cpu-192M") / RESULT_FILE
    damaged.write_bytes(damage)
    before = kept_files(run_dir)
    assert report_error(run_dir, capsys).startswith(f"error: {damaged}: {reason}")
    assert kept_files(run_dir) == before


def test_report_names_a_result_with_an_unknown_verdict(run_dir, capsys):
    damaged = run_dir / artifacts_dirname(3, "1x0.35cpu-192M") / RESULT_FILE
    damaged.write_text(damaged.read_text(encoding="utf-8").replace('"verdict": "pass"', '"verdict": "great"'),
                       encoding="utf-8")
    assert report_error(run_dir, capsys) == \
        f"error: {damaged}: not a result.json written by `deploy run` (unknown verdict 'great')"


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("locust_stats.csv", b"garbage\n", "not as `deploy run` wrote it (no 'Aggregated' row; expected Locust's PREFIX_stats.csv)"),
    ("locust_stats.csv", None, "cannot read it: No such file or directory"),
    ("samples.csv", b"a,b\n1,2\n", "not as `deploy run` wrote it (no column 'replica')"),
    ("samples.csv", None, "cannot read it: No such file or directory"),
])
def test_report_names_a_damaged_locust_or_samples_file_and_writes_nothing(run_dir, capsys, name, content, reason):
    damaged = run_dir / artifacts_dirname(4, "1x0.5cpu-250M") / name
    if content is None:
        damaged.unlink()
    else:
        damaged.write_bytes(content)
    before = kept_files(run_dir)
    assert report_error(run_dir, capsys) == f"error: {damaged}: {reason}"
    assert kept_files(run_dir) == before


def test_report_names_a_damaged_attempt_set_aside_and_writes_nothing(run_dir, capsys):
    attempt = run_dir / f"{artifacts_dirname(5, '3x0.5cpu-250M')}.superseded-20261130T070000Z"
    attempt.mkdir()
    (attempt / RESULT_FILE).write_text("{", encoding="utf-8")
    before = kept_files(run_dir)
    assert report_error(run_dir, capsys).startswith(f"error: {attempt / RESULT_FILE}: not a result.json written by")
    assert kept_files(run_dir) == before


def test_report_that_cannot_be_written_is_one_error_line(run_dir, capsys):
    # A directory in the way of results.json: the OS refuses the write even to root, as a read-only directory would.
    (run_dir / "results.json").mkdir()
    line = report_error(run_dir, capsys, code=1)
    assert line == f"error: cannot write {run_dir / 'results.json'}: Is a directory"
