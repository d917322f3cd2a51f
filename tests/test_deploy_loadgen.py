"""Following Locust: the command the runner starts, its live statistics, its failures, its verdict file."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.loadgen import generator_saturated, locust_command, main_failure, read_live
from deploy.matrix import Load
from loadtest.slo import Slo

RECORDED_RUN = Path(__file__).resolve().parent / "fixtures" / "deploy" / "reference-run"


def test_the_command_runs_the_locustfile_headless_with_the_load_and_the_slo(tmp_path):
    command = locust_command(Load(users=50, spawn_rate=10, duration_s=60, shape="constant"),
                             Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000, min_rps=120),
                             "http://127.0.0.1:18000", tmp_path)
    assert Path(command[0]).name == "locust"
    text = " ".join(command[1:])
    for part in ("-f loadtest/locustfile.py", "--headless", "--host http://127.0.0.1:18000", "--users 50",
                 "--spawn-rate 10", "--run-time 60s", "--shape constant", f"--csv {tmp_path}/locust",
                 "--csv-full-history", f"--html {tmp_path}/locust.html", "--slo-max-failure-ratio 0.01",
                 "--slo-p95-ms 300", "--slo-p99-ms 1000", "--slo-min-rps 120"):
        assert part in text


def test_extra_arguments_come_last_so_they_can_make_locust_a_master(tmp_path):
    command = locust_command(Load(users=400, spawn_rate=20, duration_s=300, shape="constant"), Slo(), "http://10.0.0.5:18000",
                             tmp_path, ("--master", "--expect-workers", "8"))
    assert command[-3:] == ["--master", "--expect-workers", "8"]
    assert "http://10.0.0.5:18000" in command


def test_live_figures_are_the_newest_aggregated_row_of_the_history():
    live = read_live(RECORDED_RUN / "04-1x0.5cpu-250M" / "locust_stats_history.csv")
    assert (live.users, live.requests_per_s, live.requests, live.failures, live.p95_ms) == (50, 165.3, 9135, 0, 25.0)


def test_no_history_yet_means_no_live_figures(tmp_path):
    assert read_live(tmp_path / "locust_stats_history.csv") is None
    (tmp_path / "locust_stats_history.csv").write_text("Timestamp,User Count,Type,Name,Requests/s\n", encoding="utf-8")
    assert read_live(tmp_path / "locust_stats_history.csv") is None


def test_the_main_failure_unwraps_the_locustfiles_message_and_gives_its_share():
    assert main_failure(RECORDED_RUN / "05-3x0.5cpu-250M" / "locust_failures.csv") == \
        "HTTP 502 bad_gateway (88% of failures)"
    assert main_failure(RECORDED_RUN / "03-1x0.35cpu-192M" / "locust_failures.csv") is None


def test_saturation_is_read_from_the_locustfiles_verdict(tmp_path):
    assert not generator_saturated(tmp_path)
    verdict = {"passed": False, "reasons": ["generator CPU saturated: results not trustworthy (generator: 40 of 60)"]}
    (tmp_path / "locust_verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    assert generator_saturated(tmp_path)
    verdict["reasons"] = ["p95 840 ms > 300 ms"]
    (tmp_path / "locust_verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    assert not generator_saturated(tmp_path)
