"""The benchmark's arithmetic: ratios, verdicts, saturation and the table, on made-up measurements."""

from __future__ import annotations

import pytest

from bench.report import (
    SATURATION_CPU_FRACTION, median, paired_ratio, ratio, render_markdown, render_text, rows, saturated, summarise,
)


def run(requests_per_s: float, *, generator: float = 0.05, server: float = 1.0, others: float = 0.0,
        p50_ms: float = 1.0, p99_ms: float = 3.0, errors: int = 0, target_rps: float | None = None) -> dict:
    return {"tool": "wrk", "path": "/", "requests": int(requests_per_s * 4), "errors": errors, "duration_s": 4.0,
            "p50_ms": p50_ms, "p99_ms": p99_ms, "generator_cpu_fraction": generator, "target_rps": target_rps,
            "server_cpu_fraction": server, "others_cpu_fraction": others, "requests_per_s": requests_per_s}


def measurements(**overrides) -> dict:
    base = {
        "model": {"method": "predict_proba", "model_1_row_us": 100.0, "model_batch100_per_row_us": 2.0,
                  "model_batch1000_per_row_us": 0.25},
        "in_process": {"service_model_predict_us": 8.0, "test_client_predict_us": 200.0, "test_client_ceiling_us": 150.0},
        "direct": {
            "predict": [run(2400), run(2000)],
            "ceiling": [run(3000), run(2600)],
            "batch100": [run(1500)],
            "batch1000": [run(200)],
            "latency": [run(1540, target_rps=1540, p50_ms=2.0, p99_ms=6.0), run(1540, target_rps=1540, p50_ms=2.0, p99_ms=12.0)],
        },
        "nginx": {"predict": [run(1200)], "health": [run(1600)]},
        "memory": [{"workers": 1, "pss_bytes": 100 * 2**20}, {"workers": 2, "pss_bytes": 150 * 2**20}],
        "worker_classes": [
            {"cpus": 1, "worker_class": "sync", "workers": 1, "threads": 1, "runs": [run(1000)]},
            {"cpus": 1, "worker_class": "gthread", "workers": 1, "threads": 4, "runs": [run(2000)],
             "latency": {**run(1400, target_rps=1400, p50_ms=1.0, p99_ms=4.0), "server_p99_ms": 5.5}},
        ],
    }
    base.update(overrides)
    return base


def test_ratio_is_none_without_a_denominator() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None and ratio(3.0, 0.0) is None and ratio(3.0, None) is None
    assert median([]) is None


def test_the_predict_to_ceiling_ratio_pairs_runs_made_back_to_back() -> None:
    pairs = paired_ratio([run(2400), run(1000)], [run(3000), run(2000)])
    assert pairs == {"median": pytest.approx(0.65), "min": pytest.approx(0.5), "max": pytest.approx(0.8)}


def test_headline_figures_and_their_ratios() -> None:
    summary = summarise(measurements())
    assert summary["predict_rps"] == 2200 and summary["ceiling_rps"] == 2800
    assert summary["predict_to_ceiling_ratio"] == pytest.approx((0.8 + 2000 / 2600) / 2)
    assert summary["limit_rps"] == pytest.approx(10_000)
    assert summary["predict_to_limit_ratio"] == pytest.approx(0.22)
    assert summary["batch1000_predictions_per_s"] == 200_000
    assert summary["batch"]["1000"]["to_model_ratio"] == pytest.approx(200_000 / 4_000_000)
    assert summary["batch100_predictions_per_s"] == 150_000
    assert summary["p50_ms"] == 2.0 and summary["p99_ms"] == 9.0
    assert summary["p99_to_p50_ratio"] == pytest.approx(4.5)
    assert summary["nginx"]["predict_to_direct_ratio"] == pytest.approx(1200 / 2200)
    assert [m["to_one_worker_ratio"] for m in summary["memory"]] == [1.0, 1.5]
    assert [w["to_best_ratio"] for w in summary["worker_classes"]] == [0.5, 1.0]
    assert [w["cpu_us_per_request"] for w in summary["worker_classes"]] == [1000, 500]
    assert [w["cpu_to_lowest_ratio"] for w in summary["worker_classes"]] == [2.0, 1.0]
    assert summary["worker_classes"][1]["server_p99_ms"] == 5.5
    assert summary["worker_classes"][1]["p99_to_p50_ratio"] == 4.0


def test_the_worker_class_table_is_printed_with_its_ratios() -> None:
    data = measurements()
    summary = summarise(data)
    text = render_text(rows(summary, data), summary)
    assert "1 gthread x4 threads" in text and "1 sync" in text
    assert "| 1 | 1 gthread x4 threads | 2,000 | 1.00 | 500 | 1.00 | 5.50 | 4.00 | 0% |" in render_markdown(rows(summary, data), summary, {
        "started_at": "-", "cpu_model": "-", "cpus": 2, "generator": "wrk", "versions": {}})


def test_the_servers_own_percentiles_sit_beside_the_clients() -> None:
    latency = [{**run(1540, target_rps=1540, p50_ms=2.0, p99_ms=8.0), "server_p50_ms": 0.2, "server_p99_ms": 1.0}]
    data = measurements(direct={**measurements()["direct"], "latency": latency})
    summary = summarise(data)
    assert (summary["server_p50_ms"], summary["server_p99_ms"]) == (0.2, 1.0)
    table = {row.measure.strip(): row for row in rows(summary, data)}
    assert table["server's own p99 (access log)"].ratio == pytest.approx(5.0)
    assert table["server's own p50 (access log)"].ratio == pytest.approx(0.1)


def test_cpu_per_request_gives_the_ratio_a_core_of_its_own_would() -> None:
    summary = summarise(measurements(direct={
        **measurements()["direct"],
        "predict": [run(2000, server=0.8)], "ceiling": [run(2000, server=0.6)],
    }))
    assert summary["predict_cpu_us_per_request"] == pytest.approx(400)
    assert summary["ceiling_cpu_us_per_request"] == pytest.approx(300)
    assert summary["predict_to_ceiling_cpu_ratio"] == pytest.approx(0.75)


@pytest.mark.parametrize(("predict", "ceiling", "met"), [(2400, 3000, True), (2300, 3000, False)])
def test_the_ratio_target_is_met_at_eighty_percent(predict, ceiling, met) -> None:
    summary = summarise(measurements(direct={**measurements()["direct"], "predict": [run(predict)], "ceiling": [run(ceiling)]}))
    verdict = next(t for t in summary["targets"] if t["name"].startswith("/predict"))
    assert verdict["met"] is met


def test_the_tail_target_fails_past_five_times_the_median() -> None:
    latency = [run(1540, target_rps=1540, p50_ms=2.0, p99_ms=10.5)]
    summary = summarise(measurements(direct={**measurements()["direct"], "latency": latency}))
    verdict = next(t for t in summary["targets"] if t["name"].startswith("p99"))
    assert verdict["met"] is False and verdict["value"] == pytest.approx(5.25)


def test_missing_measurements_are_not_measured_rather_than_met() -> None:
    direct = {**measurements()["direct"], "batch1000": [], "latency": []}
    summary = summarise(measurements(direct=direct))
    verdicts = {t["name"]: t["met"] for t in summary["targets"]}
    assert verdicts["batch of 1000: predictions/s on one worker core"] is None
    assert [met for name, met in verdicts.items() if name.startswith("p99")] == [None]


@pytest.mark.parametrize(("fraction", "expected"), [(SATURATION_CPU_FRACTION - 0.01, False), (SATURATION_CPU_FRACTION, True), (1.0, True)])
def test_saturation_threshold(fraction, expected) -> None:
    assert saturated(fraction) is expected


def test_a_saturated_generator_anywhere_makes_the_result_invalid() -> None:
    nginx = {"predict": [run(1200, generator=0.97)], "health": [run(1600)]}
    summary = summarise(measurements(nginx=nginx))
    assert summary["generator_saturated"] and not summary["valid"]
    assert "INVALID" in render_text(rows(summary, measurements(nginx=nginx)), summary)


def test_failed_requests_make_the_result_invalid() -> None:
    direct = {**measurements()["direct"], "batch100": [run(1500, errors=3)]}
    summary = summarise(measurements(direct=direct))
    assert summary["errors"] == 3 and not summary["valid"]


def test_a_clean_run_is_valid() -> None:
    summary = summarise(measurements())
    assert summary["valid"] and "VALID: no generator saturated" in render_text(rows(summary, measurements()), summary)


def test_an_overloaded_latency_run_and_a_noisy_core_are_called_out() -> None:
    direct = {**measurements()["direct"], "latency": [run(1000, target_rps=1540, others=0.4)]}
    summary = summarise(measurements(direct=direct))
    text = render_text(rows(summary, measurements(direct=direct)), summary)
    assert "1 of 1 rate-limited runs answered less than 95% of the offered rate (lowest 65%)" in text
    assert "not judged" in text
    assert "NOISE: in 1 of" in text


def test_the_tail_is_judged_on_the_runs_that_kept_up_only() -> None:
    latency = [run(1540, target_rps=1540, p50_ms=1.0, p99_ms=3.0), run(700, target_rps=1540, p50_ms=10.0, p99_ms=90.0)]
    summary = summarise(measurements(direct={**measurements()["direct"], "latency": latency}))
    verdict = next(t for t in summary["targets"] if t["name"].startswith("p99"))
    assert (summary["p50_ms"], summary["p99_ms"]) == (1.0, 3.0)
    assert verdict["met"] is True and verdict["value"] == 3.0


def test_no_tail_verdict_when_no_run_kept_up() -> None:
    latency = [run(700, target_rps=1540, p50_ms=10.0, p99_ms=20.0)]
    summary = summarise(measurements(direct={**measurements()["direct"], "latency": latency}))
    verdict = next(t for t in summary["targets"] if t["name"].startswith("p99"))
    assert verdict["met"] is None


def test_a_skipped_nginx_step_says_why() -> None:
    data = measurements(nginx={"skipped": "compose.yaml not found"})
    summary = summarise(data)
    table = rows(summary, data)
    assert not any(row.measure.startswith("Nginx") for row in table)
    assert "Nginx step skipped: compose.yaml not found" in render_text(table, summary)


def test_every_figure_in_the_table_has_a_ratio() -> None:
    data = measurements()
    table = rows(summarise(data), data)
    missing = [row.measure for row in table if row.ratio is None and not row.measure.startswith("Nginx -> api (1.0 CPU) GET")]
    assert missing == []


def test_markdown_has_the_machine_and_versions() -> None:
    data = measurements()
    summary = summarise(data)
    header = {"started_at": "2026-01-01T00:00:00+00:00", "cpu_model": "Test CPU", "cpus": 2, "generator": "wrk",
              "versions": {"python": "3.11.7", "sklearn": "1.9.1"}}
    text = render_markdown(rows(summary, data), summary, header)
    assert "Test CPU (2 CPUs)" in text and "sklearn 1.9.1" in text
    assert "| Gunicorn /predict | 2,200 | req/s |" in text


def test_predict_is_set_against_the_bare_flask_floor_run_by_run() -> None:
    direct = {**measurements()["direct"], "bare_flask": [run(3000, server=0.9), run(2500, server=0.9)]}
    data = measurements(direct=direct)
    summary = summarise(data)
    assert summary["bare_flask_rps"] == 2750
    assert summary["predict_to_bare_flask_ratio"] == pytest.approx((2400 / 3000 + 2000 / 2500) / 2)
    assert summary["bare_flask_cpu_us_per_request"] == pytest.approx((0.9e6 / 3000 + 0.9e6 / 2500) / 2)
    verdict = next(t for t in summary["targets"] if "bare Flask" in t["name"])
    assert verdict["met"] is True and verdict["value"] == pytest.approx(0.8)
    table = {row.ratio_of: row for row in rows(summary, data)}
    assert table["x bare Flask (target >= 0.8)"].value == 2200


def test_without_a_bare_flask_run_its_target_is_not_judged_and_its_rows_are_left_out() -> None:
    data = measurements()
    summary = summarise(data)
    assert next(t for t in summary["targets"] if "bare Flask" in t["name"])["met"] is None
    assert not any("bare" in row.measure for row in rows(summary, data))


def test_nginx_cpu_per_request_and_the_stacks_requests_per_cpu_second() -> None:
    nginx = {"predict": [{**run(1000), "nginx_cpu_fraction": 0.1, "api_cpu_fraction": 0.5}], "health": [run(1600)]}
    direct = {**measurements()["direct"], "predict": [run(2000, server=0.8)]}
    summary = summarise(measurements(nginx=nginx, direct=direct))
    figures = summary["nginx"]
    assert figures["nginx_cpu_us_per_request"] == pytest.approx(100)
    assert figures["stack_cpu_us_per_request"] == pytest.approx(600)
    assert figures["stack_per_cpu_to_direct_ratio"] == pytest.approx(400 / 600)
    assert summary["nginx_to_direct_ratio"] == pytest.approx(0.5)
    verdict = next(t for t in summary["targets"] if t["name"].startswith("through Nginx"))
    assert verdict["met"] is False


def test_the_tail_target_uses_the_servers_own_percentiles_when_the_access_log_gave_them() -> None:
    latency = [{**run(1540, target_rps=1540, p50_ms=2.0, p99_ms=20.0), "server_p50_ms": 0.25, "server_p99_ms": 1.0}]
    summary = summarise(measurements(direct={**measurements()["direct"], "latency": latency}))
    verdict = next(t for t in summary["targets"] if t["name"].startswith("p99"))
    assert "the server's own" in verdict["name"]
    assert verdict["value"] == pytest.approx(4.0) and verdict["met"] is True
    assert summary["p99_to_p50_ratio"] == pytest.approx(10.0)


def test_through_nginx_is_set_against_the_same_replica_direct_round_by_round() -> None:
    nginx = {
        "client_path": "the containers' addresses on the stack's network",
        "predict": [{**run(1800), "nginx_cpu_fraction": 0.18, "api_cpu_fraction": 0.9, "port_proxy_cpu_fraction": 0.0},
                    {**run(1500), "nginx_cpu_fraction": 0.15, "api_cpu_fraction": 0.75, "port_proxy_cpu_fraction": 0.0}],
        "replica": [{**run(2000), "nginx_cpu_fraction": 0.0, "api_cpu_fraction": 1.0, "port_proxy_cpu_fraction": 0.0},
                    {**run(2000), "nginx_cpu_fraction": 0.0, "api_cpu_fraction": 1.0, "port_proxy_cpu_fraction": 0.0}],
        "published": [{**run(1000), "nginx_cpu_fraction": 0.1, "api_cpu_fraction": 0.5, "port_proxy_cpu_fraction": 0.2},
                      {**run(1000), "nginx_cpu_fraction": 0.1, "api_cpu_fraction": 0.5, "port_proxy_cpu_fraction": 0.2}],
        "health": [run(2500)],
    }
    data = measurements(nginx=nginx)
    summary = summarise(data)
    figures = summary["nginx"]
    assert figures["direct_is_the_replica"] is True
    assert summary["nginx_to_direct_ratio"] == pytest.approx((0.9 + 0.75) / 2)
    assert figures["predict_to_direct_ratio_range"] == [pytest.approx(0.75), pytest.approx(0.9)]
    assert figures["direct_cpu_us_per_request"] == pytest.approx(500)
    assert figures["nginx_cpu_us_per_request"] == pytest.approx(100)
    assert figures["stack_cpu_us_per_request"] == pytest.approx(600)
    assert figures["stack_per_cpu_to_direct_ratio"] == pytest.approx(500 / 600)
    assert figures["published_to_direct_ratio"] == pytest.approx(0.5)
    assert figures["port_proxy_cpu_us_per_request"] == pytest.approx(200)
    assert figures["predict_to_host_gunicorn_ratio"] == pytest.approx(1650 / 2200)
    table = {row.measure: row for row in rows(summary, data)}
    assert table["api replica (1.0 CPU) /predict, direct"].value == 2000
    assert table["Nginx -> api (1.0 CPU) /predict"].ratio_of == "x the replica direct (target >= 0.85)"
    assert table["  Docker's port proxy CPU per request"].value == pytest.approx(200)


def test_the_bare_flask_target_is_judged_on_the_rounds_driven_at_once_when_there_are_some() -> None:
    together = [{"predict": run(1000, server=0.5), "bare_flask": run(1200, server=0.5)},
                {"predict": run(900, server=0.5), "bare_flask": run(1000, server=0.5)},
                {"predict": run(800, server=0.5), "bare_flask": run(1000, server=0.5)}]
    direct = {**measurements()["direct"], "bare_flask": [run(3000), run(2500)], "together": together}
    data = measurements(direct=direct)
    summary = summarise(data)
    # bare CPU µs per request / /predict's: 417/500, 500/556, 500/625.
    assert summary["predict_to_bare_flask_together_ratio"] == pytest.approx(500 / 600)
    assert summary["predict_to_bare_flask_ratio"] == pytest.approx(500 / 600)
    assert summary["predict_to_bare_flask_ratio_range"] == [pytest.approx(0.8), pytest.approx(0.9)]
    assert summary["predict_to_bare_flask_rps_ratio"] == pytest.approx(0.8)
    verdict = next(t for t in summary["targets"] if "bare Flask" in t["name"])
    assert verdict["value"] == pytest.approx(500 / 600) and verdict["met"] is True
    table = {row.ratio_of: row for row in rows(summary, data)}
    assert table["= bare CPU / predict CPU (target >= 0.8)"].value == pytest.approx(1e6 / 1800)
    assert table["x bare Flask, rounds in turn"].ratio == pytest.approx(0.8)
