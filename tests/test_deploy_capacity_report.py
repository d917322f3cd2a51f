"""Reports of a recorded capacity run: results.md/.csv/.json, probes.csv, the plots, judging again, sizing, k8s.

The fixture is a real `python -m deploy capacity deploy/matrices/smoke.toml` run
on a 2-CPU host: its plan, matrix, the bench's ceiling, each configuration's
result.json with every probe, and one probe's own files (Locust's stats CSV and
log, the stats samples). Expectations are read from the probes themselves, not
copied from the report.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from deploy.__main__ import main
from deploy.capacity import GENERATOR_REACH
from deploy.capacity_run import judge_capacity_again, read_ceiling
from deploy.matrix import load_matrix
from deploy.results import load_results
from deploy.rundir import read_plan
from deploy.verdict import NOTABLE_THROTTLING
from loadtest.slo import read_stats_csv
from tests.conftest import PNG_SIGNATURE

RECORDED = Path(__file__).resolve().parent / "fixtures" / "deploy" / "capacity-run"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A copy of the recorded run directory, without its reports."""
    return Path(shutil.copytree(RECORDED, tmp_path / "run"))


def capacity_from_probes(probes: list[dict]) -> float | None:
    """The highest passing rate below the lowest failing one, computed here from the raw probes."""
    fails = [probe["offered_rps"] for probe in probes if not probe["passed"]]
    lowest_fail = min(fails, default=float("inf"))
    passes = [probe["offered_rps"] for probe in probes if probe["passed"] and probe["offered_rps"] < lowest_fail]
    return max(passes, default=None)


def recorded_rows() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(RECORDED.glob("*/result.json"))]


def test_the_report_command_writes_every_file_from_the_kept_probes(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert document["mode"] == "capacity"
    assert document["ceiling_rps"] == read_ceiling(RECORDED).ceiling_rps
    rows = document["configurations"]
    assert [(row["replicas"], row["cpus"]) for row in rows] == [(1, 0.25), (1, 0.5)]
    for row, recorded in zip(rows, recorded_rows(), strict=True):
        assert row["capacity_rps"] == capacity_from_probes(recorded["probes"])
        # The replicas' CPU quota set it, so nothing bounded it from outside (capacity_bound null): the lowest
        # failing probe found them throttled and the generator keeping pace, far below the bench's ceiling.
        lowest_fail = min((probe for probe in recorded["probes"] if not probe["passed"]),
                          key=lambda probe: probe["offered_rps"])
        assert lowest_fail["throttled_ratio"] >= NOTABLE_THROTTLING and not lowest_fail["generator_saturated"]
        assert row["capacity_rps"] < GENERATOR_REACH * document["ceiling_rps"]
        assert row["capacity_bound"] is None
        assert row["capacity_per_cpu"] == pytest.approx(row["capacity_rps"] / row["total_cpus"])
        assert len(row["probes"]) == len(recorded["probes"])
    first, second = rows
    markdown = (run_dir / "results.md").read_text(encoding="utf-8")
    assert f"| 1 | 1 × 0.25 CPU / 256M | 0.25 | 256M | ✅ {first['capacity_rps']:g} req/s |" in markdown
    assert f"{second['capacity_rps']:g} req/s" in markdown
    assert f"The bench's ceiling (Locust against Nginx's own /nginx-health, no replica involved): " \
           f"{document['ceiling_rps']:g} req/s" in markdown
    assert "| 1 | 1 × 0.25 CPU / 256M |" in printed  # the table, printed at the end
    with (run_dir / "probes.csv").open(newline="", encoding="utf-8") as handle:
        probes = list(csv.DictReader(handle))
    assert len(probes) == sum(len(row["probes"]) for row in rows)
    assert {"offered_rps", "achieved_rps", "p95_ms", "throttled_ratio", "passed", "reasons"} <= set(probes[0])
    with (run_dir / "results.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [float(line["capacity_rps"]) for line in table] == [row["capacity_rps"] for row in rows]
    for png in ("latency_throughput.png", "capacity_cpu.png", "scaling.png"):
        assert (run_dir / png).read_bytes().startswith(PNG_SIGNATURE)


def test_doubling_the_cpu_limit_raised_the_capacity_in_the_recorded_run():
    first, second = recorded_rows()
    ratio = capacity_from_probes(second["probes"]) / capacity_from_probes(first["probes"])
    assert 1.5 <= ratio <= 2.5, ratio


def test_a_stricter_slo_in_the_runs_matrix_lowers_the_capacity_when_judged_again(run_dir):
    matrix_path = run_dir / "matrix.toml"
    before = judge_capacity_again(run_dir, load_matrix(matrix_path), read_plan(run_dir))
    text = matrix_path.read_text(encoding="utf-8").replace("p95_ms = 300", "p95_ms = 20")
    matrix_path.write_text(text, encoding="utf-8")
    after = judge_capacity_again(run_dir, load_matrix(matrix_path), read_plan(run_dir))
    for old, new in zip(before, after, strict=True):
        passing = [p.offered_rps for p in old.probes if p.passed and p.p95_ms is not None and p.p95_ms <= 20]
        assert new.capacity_rps == (capacity_from_probes([p.to_dict() for p in new.probes]))
        assert new.capacity_rps is None or new.capacity_rps <= old.capacity_rps
        assert new.capacity_rps is None or new.capacity_rps in passing


def test_a_recorded_probes_stats_file_gives_its_figures_again():
    row = recorded_rows()[0]
    kept = [probe for probe in row["probes"] if (RECORDED / row["artifacts"] / probe["artifacts"]).is_dir()]
    assert kept, "the fixture keeps one probe's files"
    probe = kept[0]
    directory = RECORDED / row["artifacts"] / probe["artifacts"]
    stats = read_stats_csv(directory / "locust_stats.csv")
    assert stats.requests == probe["requests"] and stats.p95_ms == probe["p95_ms"]


def test_recommend_sizes_the_recorded_run_for_a_target_and_writes_the_autoscalers_minimum(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    capsys.readouterr()
    rows = {result.name: result for result in load_results(run_dir)}
    small = rows["1x0.25cpu-256M"]
    held = small.capacity_rps / 1.2 - 0.01  # just what the small one holds with 20% headroom
    assert main(["recommend", str(run_dir), "--target-rps", f"{held:.2f}", "--k8s", str(run_dir / "k8s")]) == 0
    printed = capsys.readouterr().out
    assert "1 × 0.25 CPU / 256M**, the cheapest configuration that holds it" in printed
    hpa = [doc for doc in yaml.safe_load_all((run_dir / "k8s" / "size.yaml").read_text(encoding="utf-8"))
           if doc and doc["kind"] == "HorizontalPodAutoscaler"][0]
    assert hpa["spec"]["minReplicas"] == 2  # one replica holds it; two so a drain leaves one serving

    far = 10 * max(result.capacity_rps for result in rows.values())
    assert main(["recommend", str(run_dir), "--target-rps", f"{far:g}", "--k8s", str(run_dir / "k8s")]) == 0
    printed = capsys.readouterr().out
    assert "Extrapolated (not measured)" in printed
    hpa = [doc for doc in yaml.safe_load_all((run_dir / "k8s" / "size.yaml").read_text(encoding="utf-8"))
           if doc and doc["kind"] == "HorizontalPodAutoscaler"][0]
    assert hpa["spec"]["minReplicas"] > 2 and hpa["spec"]["maxReplicas"] == 2 * hpa["spec"]["minReplicas"]
    assert "extrapolated from the capacity of" in (run_dir / "k8s" / "kustomization.yaml").read_text(encoding="utf-8")


def test_recommend_without_a_target_says_how_to_give_one(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    capsys.readouterr()
    assert main(["recommend", str(run_dir)]) == 1
    assert "has no goal: give the rate to size for with --target-rps" in capsys.readouterr().err
