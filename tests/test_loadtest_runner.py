"""``loadtest.runner``: the headless command line, and reading what Locust wrote: its live statistics,
its failures, its verdict file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from loadtest.runner import LiveStats, generator_saturated, headless_command, main_failure, read_live

RECORDED_RUN = Path(__file__).resolve().parent / "fixtures" / "deploy" / "reference-run"


def test_the_command_runs_the_locustfile_headless_and_puts_the_options_last() -> None:
    command = headless_command(Path("bench/locustfile.py"), "http://127.0.0.1:9", users=8, spawn_rate=8,
                               run_time_s=2.5, options=["--loglevel", "WARNING", "UserClass"])

    assert Path(command[0]).name == "locust"
    assert command[1:] == ["-f", "bench/locustfile.py", "--headless", "--host", "http://127.0.0.1:9",
                           "--users", "8", "--spawn-rate", "8", "--run-time", "2.5s", "--only-summary",
                           "--loglevel", "WARNING", "UserClass"]


def test_with_a_directory_the_run_keeps_its_csv_files_full_history_and_html_report(tmp_path: Path) -> None:
    command = headless_command(Path("loadtest/locustfile.py"), "http://h", users=1, spawn_rate=0.5, run_time_s=60,
                               directory=tmp_path)

    text = " ".join(command[1:])
    assert "--spawn-rate 0.5 --run-time 60s" in text
    assert f"--csv {tmp_path}/locust --csv-full-history --html {tmp_path}/locust.html --only-summary" in text


def test_live_figures_are_the_newest_aggregated_row_and_the_rate_of_its_last_seconds():
    history = RECORDED_RUN / "04-1x0.5cpu-250M" / "locust_stats_history.csv"
    live = read_live(history)
    assert (live.users, live.requests, live.failures, live.p95_ms) == (50, 9135, 0, 25.0)
    with history.open(newline="", encoding="utf-8") as handle:
        totals = {int(row["Timestamp"]): int(row["Total Request Count"])
                  for row in csv.DictReader(handle) if row["Name"] == "Aggregated"}
    newest = max(totals)
    assert live.requests_per_s == pytest.approx((totals[newest] - totals[newest - 5]) / 5)
    assert live.requests_per_s == pytest.approx(165.3, abs=0.5), "Locust's own Requests/s of a steady load agrees"


def test_no_history_yet_means_no_live_figures(tmp_path):
    assert read_live(tmp_path / "locust_stats_history.csv") is None
    (tmp_path / "locust_stats_history.csv").write_text("Timestamp,User Count,Type,Name,Requests/s\n", encoding="utf-8")
    assert read_live(tmp_path / "locust_stats_history.csv") is None


def test_the_row_locust_writes_before_any_user_started_is_not_shown_as_live_figures(tmp_path):
    history = tmp_path / "locust_stats_history.csv"
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,95%,Total Request Count,Total Failure Count\n"
    history.write_text(header + "1764672000,0,,Aggregated,0.000000,0.000000,N/A,0,0\n", encoding="utf-8")
    assert read_live(history) is None
    history.write_text(header + "1764672000,0,,Aggregated,0.000000,0.000000,N/A,0,0\n"
                       "1764672001,5,,Aggregated,0.000000,0.000000,11,19,0\n", encoding="utf-8")
    assert read_live(history) == LiveStats(users=5, requests_per_s=None, requests=19, failures=0, p95_ms=11.0)


# The Aggregated rows of a smoke run's first seconds (5 users, constant shape, --csv-full-history), as
# Locust 2.47 wrote them: answers counted from the first second, a rate from the fourth, a p95 from the third.
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
                  "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
                  "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                  "Total Average Content Size\n")
FIRST_SECONDS = [
    "1796220839,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0\n",
    "1796220840,5,,Aggregated,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,21,0,6,9.33,2.94,31.26,444.52\n",
    "1796220841,5,,Aggregated,0.000000,0.000000,3,3,4,5,8,10,10,10,10,10,10,36,0,4,6.80,2.49,31.26,373.36\n",
    "1796220842,5,,Aggregated,18.000000,0.000000,3,5,7,8,10,11,17,17,17,17,17,50,0,4,6.70,2.49,31.26,319.66\n",
]


@pytest.mark.parametrize(("rows", "expected"), [
    (1, None),
    (2, LiveStats(users=5, requests_per_s=None, requests=21, failures=0, p95_ms=None)),
    (3, LiveStats(users=5, requests_per_s=18.0, requests=36, failures=0, p95_ms=10.0)),
    (4, LiveStats(users=5, requests_per_s=pytest.approx(50 / 3), requests=50, failures=0, p95_ms=11.0)),
])
def test_the_rate_comes_from_the_running_totals_once_they_span_2_s_and_an_unformed_p95_is_none(tmp_path, rows,
                                                                                                 expected):
    # Locust's own Requests/s in these rows is 0 until the fourth, and lags a changing load by up to 12 s.
    history = tmp_path / "locust_stats_history.csv"
    history.write_text(HISTORY_HEADER + "".join(FIRST_SECONDS[:rows]), encoding="utf-8")
    assert read_live(history) == expected


def test_after_a_reset_of_the_statistics_the_rate_starts_again_from_the_reset(tmp_path):
    history = tmp_path / "locust_stats_history.csv"
    reset = "1796220843,5,,Aggregated,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,4,0,4,4.0,2.9,5.0,180.0\n"
    history.write_text(HISTORY_HEADER + "".join(FIRST_SECONDS) + reset, encoding="utf-8")
    assert read_live(history) == LiveStats(users=5, requests_per_s=None, requests=4, failures=0, p95_ms=None)
    later = ("1796220844,5,,Aggregated,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,30,0,4,4.0,2.9,5.0,180.0\n"
             "1796220845,5,,Aggregated,0.000000,0.000000,4,4,4,4,5,6,6,6,6,6,6,60,0,4,4.0,2.9,5.0,180.0\n")
    history.write_text(HISTORY_HEADER + "".join(FIRST_SECONDS) + reset + later, encoding="utf-8")
    assert read_live(history).requests_per_s == (60 - 4) / 2, "only the rows since the reset count"


def test_the_main_failure_unwraps_the_locustfiles_message_and_gives_its_share():
    assert main_failure(RECORDED_RUN / "05-3x0.5cpu-250M" / "locust_failures.csv") == \
        "HTTP 502 bad_gateway (88% of failures)"
    assert main_failure(RECORDED_RUN / "03-1x0.35cpu-192M" / "locust_failures.csv") is None


def test_saturation_is_read_from_the_locustfiles_verdict(tmp_path):
    assert not generator_saturated(tmp_path), "no verdict written: nothing says the generator saturated"
    verdict = {"passed": False, "reasons": ["generator CPU saturated: results not trustworthy (generator: 40 of 60)"],
               "generator_saturated": True}
    (tmp_path / "locust_verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    assert generator_saturated(tmp_path)
    verdict.update(reasons=["p95 840 ms > 300 ms"], generator_saturated=False)
    (tmp_path / "locust_verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    assert not generator_saturated(tmp_path)
