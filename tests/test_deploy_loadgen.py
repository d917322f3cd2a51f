"""The experiments' loads: the matrix's Locust command and the open-model load, its command and achieved rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.loadgen import OpenLoad, OpenLoadRun, locust_command, open_load_command
from deploy.matrix import Load
from loadtest.runner import LocustRun, measured_window_s
from loadtest.slo import RunStats, Slo

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


def test_an_open_load_has_enough_users_on_constant_throughput_to_offer_the_rate_exactly():
    load = OpenLoad(rate_rps=101, window_s=15, ramp_s=4, pace_s=2.5)
    assert load.users == 253  # ceil(101 x 2.5)
    assert load.throughput_per_user * load.users == pytest.approx(101)
    assert load.throughput_per_user <= 1 / 2.5
    assert load.spawn_rate == pytest.approx(253 / 4)
    assert load.run_time_s == 19
    assert OpenLoad(rate_rps=0.1, window_s=5).users == 1


@pytest.mark.parametrize("field", ["rate_rps", "window_s", "ramp_s", "pace_s"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_an_open_load_refuses_a_rate_or_time_that_is_not_a_positive_number(field, value):
    arguments = {"rate_rps": 10, "window_s": 10, "ramp_s": 2, "pace_s": 2, field: value}
    with pytest.raises(ValueError, match=field):
        OpenLoad(**arguments)


def test_the_open_load_command_resets_statistics_after_the_ramp_and_overrides_locust_conf(tmp_path):
    load = OpenLoad(rate_rps=40, window_s=10, ramp_s=5, pace_s=2)
    command = open_load_command(load, Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000), "http://127.0.0.1:18000",
                                tmp_path, ("--loglevel", "WARNING"))
    text = " ".join(command)
    for part in ("--users 80", "--spawn-rate 16", "--run-time 15s", "--shape none", "--reset-stats",
                 "--wait-model constant_throughput", "--throughput-per-user 0.5", "--slo-min-rps 38",
                 "--slo-p95-ms 300", "--slo-p99-ms 1000", f"--csv {tmp_path}/locust"):
        assert part in text
    assert command[-3:] == ["--loglevel", "WARNING", "PredictApiUser"]
    assert open_load_command(OpenLoad(rate_rps=500, window_s=5, user_class="NginxHealthUser"), Slo(),
                             "http://127.0.0.1:1", tmp_path)[-1] == "NginxHealthUser"


def test_an_open_load_kept_pace_only_when_95_percent_of_the_offered_rate_was_answered(tmp_path):
    load = OpenLoad(rate_rps=100, window_s=10)
    locust = LocustRun(0, tmp_path / "s.csv", tmp_path / "h.csv", tmp_path / "l.log", False)

    def ran(achieved_rps: float | None) -> OpenLoadRun:
        stats = None if achieved_rps is None else RunStats(1000, 0, achieved_rps, 5, 9, 12)
        return OpenLoadRun(load, locust, stats)

    assert ran(96).kept_pace and ran(95).kept_pace
    assert not ran(94.9).kept_pace
    assert not ran(None).kept_pace and ran(None).achieved_rps == 0


def test_the_achieved_rate_is_the_windows_requests_over_the_window_the_verdict_timed(tmp_path):
    verdict = tmp_path / "locust_verdict.json"
    assert measured_window_s(tmp_path) is None, "no verdict written: no window"
    verdict.write_text(json.dumps({"passed": True, "reasons": [], "window_s": 10.0}), encoding="utf-8")
    assert measured_window_s(tmp_path) == pytest.approx(10.0)
    locust = LocustRun(0, tmp_path / "s.csv", tmp_path / "h.csv", tmp_path / "locust.log", False)
    run = OpenLoadRun(OpenLoad(rate_rps=60, window_s=10), locust, RunStats(600, 0, 62.68, 21, 43, 130),
                      window_s=measured_window_s(tmp_path))
    assert run.achieved_rps == pytest.approx(60.0)  # not Locust's 62.68, timed to the last answer
    assert OpenLoadRun(run.load, locust, run.stats).achieved_rps == 62.68
    verdict.write_text(json.dumps({"passed": True, "reasons": [], "window_s": None}), encoding="utf-8")
    assert measured_window_s(tmp_path) is None, "a run that never stopped has no window"
