"""Turn raw measurements into the summary, the target verdicts and the printed table.

Pure functions only: nothing here times or starts anything, so the arithmetic
that decides a verdict can be tested on made-up numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# A generator using this much of its core may be the limit instead of the
# server; Locust warns at the same threshold (locust.runners.CPU_WARNING_THRESHOLD = 90).
SATURATION_CPU_FRACTION = 0.9
# The share of the measured maximum at which latency percentiles are taken.
LATENCY_LOAD_FRACTION = 0.7
# A rate-limited run that answered less than this share of the offered rate
# measured a server that could not keep up, not latency at that rate.
KEPT_UP_FRACTION = 0.95
# Other processes using more than this share of the server's core disturbed the run.
DISTURBED_OTHERS_FRACTION = 0.1
MIB = 1024 * 1024

PREDICT_TO_CEILING_MIN = 0.8
PREDICT_TO_BARE_FLASK_MIN = 0.8
NGINX_TO_DIRECT_MIN = 0.85
BATCH1000_PREDICTIONS_PER_S_MIN = 50_000
P99_TO_P50_MAX = 5.0


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its unit, and the ratio that gives it meaning."""

    measure: str
    value: float | None
    unit: str
    ratio: float | None
    ratio_of: str


@dataclass(frozen=True)
class Target:
    """One performance target and whether this run met it (None: not measured)."""

    name: str
    value: float | None
    limit: str
    met: bool | None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def saturated(generator_cpu_fraction: float) -> bool:
    """Whether a generator this busy (CPU s per wall s, 1.0 = its whole core) may have been the limit."""
    return generator_cpu_fraction >= SATURATION_CPU_FRACTION


def rps(runs: Sequence[dict[str, Any]]) -> float | None:
    """Median requests per second over repeated runs."""
    return median([run["requests_per_s"] for run in runs])


def cpu_us_per_request(runs: Sequence[dict[str, Any]]) -> float | None:
    """Median server CPU µs per request over runs that measured it.

    Other processes on the server's core cut its requests per second but
    hardly its CPU time per request, so this is the steadier figure on a shared machine.
    """
    return median([run["server_cpu_fraction"] * 1e6 / run["requests_per_s"]
                   for run in runs if run.get("server_cpu_fraction") and run["requests_per_s"]])


def paired_ratio(numerators: Sequence[dict[str, Any]], denominators: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Median, lowest and highest of the run-by-run ratios of requests per second.

    Run i of each list ran back to back, so each pair saw the same interference
    from the rest of the machine; the median of the pairs' ratios is steadier
    than the ratio of the two medians.
    """
    pairs = [n["requests_per_s"] / d["requests_per_s"] for n, d in zip(numerators, denominators) if d["requests_per_s"]]
    return {
        "median": median(pairs),
        "min": min(pairs) if pairs else None,
        "max": max(pairs) if pairs else None,
    }


def together_ratio(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, float | None]:
    """Median, lowest and highest over rounds of ``/predict`` and the bare app driven at
    once (``bench.direct.together``) of bare CPU µs per request ÷ ``/predict``'s: the
    ratio of their requests per second on a core each had to itself."""
    shares = [ratio(cpu_us_per_request([both["bare_flask"]]), cpu_us_per_request([both["predict"]])) for both in rounds]
    found = [share for share in shares if share is not None]
    return {"median": median(found), "min": min(found) if found else None, "max": max(found) if found else None}


def all_runs(measurements: dict[str, Any]) -> list[dict[str, Any]]:
    """Every load run in the measurements, wherever it sits."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "requests_per_s" in node and "generator_cpu_fraction" in node:
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(measurements)
    return found


def summarise(measurements: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, each with the ratio it belongs to.

    ``measurements`` holds ``model`` and ``in_process`` (µs costs), ``direct``
    (lists of run dicts under ``predict``, ``ceiling``, ``bare_flask``, ``batch100``,
    ``batch1000`` and the rate-limited ``latency``), ``nginx`` (runs under
    ``predict`` and ``health``, or ``skipped``), ``memory`` (``workers``,
    ``pss_bytes``) and ``worker_classes``.
    """
    model = measurements["model"]
    in_process = measurements["in_process"]
    direct = measurements["direct"]
    limit_rps = ratio(1e6, model["model_1_row_us"])
    predict_rps = rps(direct["predict"])
    ceiling_rps = rps(direct["ceiling"])
    pairs = paired_ratio(direct["predict"], direct["ceiling"])
    bare = direct.get("bare_flask", [])
    bare_pairs = paired_ratio(direct["predict"], bare)
    at_once = together_ratio(direct.get("together", []))
    batch = {}
    for size in (100, 1000):
        runs = direct.get(f"batch{size}", [])
        per_s = rps(runs) * size if runs else None
        batch[size] = {
            "predictions_per_s": per_s,
            "to_single_row_ratio": ratio(per_s, predict_rps),
            "to_model_ratio": ratio(per_s, ratio(1e6, model[f"model_batch{size}_per_row_us"])),
        }
    latency = direct.get("latency", [])
    max_runs = [run for name in ("predict", "ceiling", "bare_flask", "batch100", "batch1000") for run in direct.get(name, [])]
    disturbed = [run for run in max_runs + latency if (run.get("others_cpu_fraction") or 0.0) > DISTURBED_OTHERS_FRACTION]
    answered = [ratio(run["requests_per_s"], run["target_rps"]) or 0.0 for run in latency]
    # Percentiles of a run that fell behind the offered rate describe an overloaded
    # server, not the latency at that rate: only runs that kept up are judged.
    kept_up = [run for run, share in zip(latency, answered) if share >= KEPT_UP_FRACTION]
    runs = all_runs(measurements)
    generator_saturated = any(saturated(run["generator_cpu_fraction"]) for run in runs)
    errors = sum(run["errors"] for run in runs)
    server_tails = [run["server_p99_ms"] / run["server_p50_ms"] for run in kept_up or latency
                    if run.get("server_p99_ms") is not None and run.get("server_p50_ms")]
    summary: dict[str, Any] = {
        "limit_rps": limit_rps,
        "predict_rps": predict_rps,
        "ceiling_rps": ceiling_rps,
        "bare_flask_rps": rps(bare),
        # Driven at once when they were (together_ratio), else in turn (paired_ratio).
        "predict_to_bare_flask_ratio": (at_once if at_once["median"] is not None else bare_pairs)["median"],
        "predict_to_bare_flask_ratio_range": [(at_once if at_once["median"] is not None else bare_pairs)[end] for end in ("min", "max")],
        "predict_to_bare_flask_rps_ratio": bare_pairs["median"],
        "predict_to_bare_flask_rps_ratio_range": [bare_pairs["min"], bare_pairs["max"]],
        "predict_to_bare_flask_together_ratio": at_once["median"],
        "ceiling_to_bare_flask_ratio": paired_ratio(direct["ceiling"], bare)["median"],
        "bare_flask_cpu_us_per_request": cpu_us_per_request(bare),
        "predict_to_bare_flask_cpu_ratio": ratio(cpu_us_per_request(bare), cpu_us_per_request(direct["predict"])),
        "predict_to_ceiling_ratio": pairs["median"],
        "predict_to_ceiling_ratio_range": [pairs["min"], pairs["max"]],
        "predict_to_limit_ratio": ratio(predict_rps, limit_rps),
        "predict_cpu_us_per_request": cpu_us_per_request(direct["predict"]),
        "ceiling_cpu_us_per_request": cpu_us_per_request(direct["ceiling"]),
        "predict_to_ceiling_cpu_ratio": ratio(cpu_us_per_request(direct["ceiling"]), cpu_us_per_request(direct["predict"])),
        "in_process_predict_to_model_ratio": ratio(in_process["test_client_predict_us"], model["model_1_row_us"]),
        "in_process_predict_to_ceiling_ratio": ratio(in_process["test_client_ceiling_us"], in_process["test_client_predict_us"]),
        "batch100_predictions_per_s": batch[100]["predictions_per_s"],
        "batch1000_predictions_per_s": batch[1000]["predictions_per_s"],
        "batch": {str(size): figures for size, figures in batch.items()},
        "p50_ms": median([run["p50_ms"] for run in kept_up or latency]),
        "p99_ms": median([run["p99_ms"] for run in kept_up or latency]),
        "p99_to_p50_ratio": median([run["p99_ms"] / run["p50_ms"] for run in kept_up or latency if run["p50_ms"]]),
        "server_p50_ms": median([run["server_p50_ms"] for run in kept_up or latency if run.get("server_p50_ms") is not None]),
        "server_p99_ms": median([run["server_p99_ms"] for run in kept_up or latency if run.get("server_p99_ms") is not None]),
        "server_p99_to_p50_ratio": median(server_tails),
        "latency_target_rps": latency[0]["target_rps"] if latency else None,
        "latency_achieved_to_target_ratio": min(answered) if answered else None,
        "latency_runs_kept_up": len(kept_up),
        "latency_runs": len(latency),
        "server_cpu_fraction": median([r["server_cpu_fraction"] for r in direct["predict"] if r.get("server_cpu_fraction") is not None]),
        "others_cpu_fraction": median([r["others_cpu_fraction"] for r in max_runs + latency if r.get("others_cpu_fraction") is not None]),
        "disturbed_runs": len(disturbed),
        "direct_runs": len(max_runs) + len(latency),
        "generator_saturated": generator_saturated,
        "errors": errors,
        "valid": not generator_saturated and errors == 0,
    }
    nginx = measurements.get("nginx", {})
    if "skipped" in nginx:
        summary["nginx"] = {"skipped": nginx["skipped"]}
        summary["nginx_to_direct_ratio"] = None
    else:
        summary["nginx"] = _nginx_figures(nginx, predict_rps, summary["predict_cpu_us_per_request"])
        summary["nginx_to_direct_ratio"] = summary["nginx"]["predict_to_direct_ratio"]
    memory = measurements.get("memory", [])
    one_worker = next((m["pss_bytes"] for m in memory if m["workers"] == 1), None)
    summary["memory"] = [
        {"workers": m["workers"], "pss_mib": m["pss_bytes"] / MIB, "to_one_worker_ratio": ratio(m["pss_bytes"], one_worker)}
        for m in memory
    ]
    summary["worker_classes"] = _worker_class_ratios(measurements.get("worker_classes", []))
    summary["targets"] = [t.__dict__ for t in targets(summary)]
    return summary


def _per_request_us(runs: Sequence[dict[str, Any]], key: str) -> float | None:
    """Median CPU µs per request of the processes whose CPU s per wall s a run holds under ``key``."""
    return median([run[key] * 1e6 / run["requests_per_s"] for run in runs if run.get(key) is not None and run["requests_per_s"]])


def _nginx_figures(nginx: dict[str, Any], direct_rps: float | None, direct_cpu_us: float | None) -> dict[str, Any]:
    """Requests per second through Nginx and their ratio to direct, and CPU per request:
    Nginx's, the replica's, and the stack's (both), against direct's.

    Direct is the same replica reached on the same client path, run by run in the same
    rounds (``replica``), when the step measured it; else Gunicorn on the host
    (``direct_rps``, ``direct_cpu_us``), measured minutes apart in another step.
    """
    predict = nginx.get("predict", [])
    replica = nginx.get("replica", [])
    published = nginx.get("published", [])
    nginx_predict = rps(predict)
    nginx_health = rps(nginx.get("health", []))
    nginx_cpu_us = _per_request_us(predict, "nginx_cpu_fraction")
    api_cpu_us = _per_request_us(predict, "api_cpu_fraction")
    stack_cpu_us = nginx_cpu_us + api_cpu_us if nginx_cpu_us is not None and api_cpu_us is not None else None
    if replica:
        to_direct = paired_ratio(predict, replica)
        direct_cpu_us = _per_request_us(replica, "api_cpu_fraction")
    else:
        to_direct = {"median": ratio(nginx_predict, direct_rps), "min": None, "max": None}
    return {
        "client_path": nginx.get("client_path"),
        "predict_rps": nginx_predict,
        "health_rps": nginx_health,
        "direct_rps": rps(replica) if replica else direct_rps,
        "direct_is_the_replica": bool(replica),
        "predict_to_direct_ratio": to_direct["median"],
        "predict_to_direct_ratio_range": [to_direct["min"], to_direct["max"]],
        "predict_to_host_gunicorn_ratio": ratio(nginx_predict, direct_rps),
        "predict_to_health_ratio": ratio(nginx_predict, nginx_health),
        "nginx_cpu_us_per_request": nginx_cpu_us,
        "api_cpu_us_per_request": api_cpu_us,
        "direct_cpu_us_per_request": direct_cpu_us,
        "stack_cpu_us_per_request": stack_cpu_us,
        # Requests per CPU second through the stack over those of direct.
        "stack_per_cpu_to_direct_ratio": ratio(direct_cpu_us, stack_cpu_us),
        "published_rps": rps(published) if published else None,
        "published_to_direct_ratio": paired_ratio(published, replica)["median"] if published and replica else None,
        "port_proxy_cpu_us_per_request": _per_request_us(published, "port_proxy_cpu_fraction"),
        "generator_cpu_fraction": median([run["generator_cpu_fraction"] for run in predict]),
    }


def _worker_class_ratios(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration: median req/s and its ratio to the best at the same CPU count, and
    server CPU µs per request (the steadier figure, see ``cpu_us_per_request``) and its ratio to the lowest."""
    best_rps: dict[int, float] = {}
    lowest_cpu: dict[int, float] = {}
    for config in configs:
        best_rps[config["cpus"]] = max(best_rps.get(config["cpus"], 0.0), rps(config["runs"]) or 0.0)
        cost = cpu_us_per_request(config["runs"])
        if cost is not None:
            lowest_cpu[config["cpus"]] = min(lowest_cpu.get(config["cpus"], cost), cost)
    entries = []
    for config in configs:
        value = rps(config["runs"])
        cost = cpu_us_per_request(config["runs"])
        entries.append({
            "cpus": config["cpus"],
            "worker_class": config["worker_class"],
            "workers": config["workers"],
            "threads": config["threads"],
            "predict_rps": value,
            "to_best_ratio": ratio(value, best_rps[config["cpus"]]),
            "cpu_us_per_request": cost,
            "cpu_to_lowest_ratio": ratio(cost, lowest_cpu.get(config["cpus"])),
            "others_cpu_fraction": median([r["others_cpu_fraction"] for r in config["runs"] if r.get("others_cpu_fraction") is not None]),
        })
        latency = config.get("latency")
        if latency:
            entries[-1].update({
                "server_p99_ms": latency.get("server_p99_ms"),
                "p99_to_p50_ratio": ratio(latency["p99_ms"], latency["p50_ms"]),
                "latency_answered_to_offered_ratio": ratio(latency["requests_per_s"], latency["target_rps"]),
            })
    return entries


def worker_class_table(summary: dict[str, Any]) -> list[list[str]]:
    """The worker-class comparison as rows of cells, a header first."""
    table = [["CPUs", "workers x class", "req/s", "x best", "server CPU µs/req", "x lowest",
              "at 70%: server's p99 ms", "client p99/p50", "others on its cores"]]
    for entry in summary["worker_classes"]:
        name = f"{entry['workers']} {entry['worker_class']}"
        if entry["worker_class"] == "gthread":
            name += f" x{entry['threads']} threads"
        others = entry["others_cpu_fraction"]
        table.append([str(entry["cpus"]), name, _number(entry["predict_rps"]), _number(entry["to_best_ratio"]),
                      _number(entry["cpu_us_per_request"]), _number(entry["cpu_to_lowest_ratio"]),
                      _number(entry.get("server_p99_ms")), _number(entry.get("p99_to_p50_ratio")),
                      "-" if others is None else f"{others:.0%}"])
    return table


def targets(summary: dict[str, Any]) -> list[Target]:
    """The performance targets and whether the summary meets each."""

    def check(value: float | None, ok: bool) -> bool | None:
        return None if value is None else ok

    bare_ratio = summary.get("predict_to_bare_flask_ratio")
    predict_ratio = summary["predict_to_ceiling_ratio"]
    nginx_ratio = summary.get("nginx_to_direct_ratio")
    batch1000 = summary["batch1000_predictions_per_s"]
    # The server's own percentiles (its access log) when there are any: the client's
    # add the generator's scheduling and the network, which on a shared 2-CPU host
    # swamp a request of a few hundred µs (docs/performance.md).
    server_tail = summary.get("server_p99_to_p50_ratio")
    tail = (server_tail if server_tail is not None else summary["p99_to_p50_ratio"]) if summary["latency_runs_kept_up"] else None
    whose = "the server's own, from its access log" if server_tail is not None else "the client's"
    return [
        Target("/predict RPS / ceiling RPS", predict_ratio, f">= {PREDICT_TO_CEILING_MIN}",
               check(predict_ratio, predict_ratio is not None and predict_ratio >= PREDICT_TO_CEILING_MIN)),
        Target("/predict RPS / bare Flask RPS, same Gunicorn worker settings", bare_ratio, f">= {PREDICT_TO_BARE_FLASK_MIN}",
               check(bare_ratio, bare_ratio is not None and bare_ratio >= PREDICT_TO_BARE_FLASK_MIN)),
        Target("through Nginx (1 replica, 1.0 CPU) / direct, /predict RPS", nginx_ratio, f">= {NGINX_TO_DIRECT_MIN}",
               check(nginx_ratio, nginx_ratio is not None and nginx_ratio >= NGINX_TO_DIRECT_MIN)),
        Target("batch of 1000: predictions/s on one worker core", batch1000, f">= {BATCH1000_PREDICTIONS_PER_S_MIN:,}",
               check(batch1000, batch1000 is not None and batch1000 >= BATCH1000_PREDICTIONS_PER_S_MIN)),
        Target(f"p99 / p50 at {LATENCY_LOAD_FRACTION:.0%} of max RPS ({whose})", tail, f"<= {P99_TO_P50_MAX:g}",
               check(tail, tail is not None and tail <= P99_TO_P50_MAX)),
    ]


def rows(summary: dict[str, Any], measurements: dict[str, Any]) -> list[Row]:
    """The table: every figure beside its ratio."""
    model = measurements["model"]
    in_process = measurements["in_process"]
    one_row_us = model["model_1_row_us"]
    method = model["method"]
    table = [
        Row(f"{method}, 1 row (the limit)", one_row_us, "µs/call", 1.0, "itself"),
        Row(f"{method}, batch of 100", model["model_batch100_per_row_us"], "µs/row",
            ratio(model["model_batch100_per_row_us"], one_row_us), "x 1-row call"),
        Row(f"{method}, batch of 1000", model["model_batch1000_per_row_us"], "µs/row",
            ratio(model["model_batch1000_per_row_us"], one_row_us), "x 1-row call"),
        Row("service Model.predict, 1 row", in_process["service_model_predict_us"], "µs/call",
            ratio(in_process["service_model_predict_us"], one_row_us), f"x {method}"),
        Row("test client POST /predict", in_process["test_client_predict_us"], "µs/req",
            summary["in_process_predict_to_model_ratio"], f"x {method}"),
        Row("test client POST /bench/ceiling", in_process["test_client_ceiling_us"], "µs/req",
            summary["in_process_predict_to_ceiling_ratio"], "= ceiling µs / predict µs"),
    ]
    if summary["bare_flask_rps"] is not None:
        at_once = summary.get("predict_to_bare_flask_together_ratio")
        table += [
            Row("Gunicorn, bare Flask POST /bench/bare", summary["bare_flask_rps"], "req/s", 1.0, "the framework's floor"),
            Row("Gunicorn /predict", summary["predict_rps"], "req/s", summary["predict_to_bare_flask_rps_ratio"],
                "x bare Flask, rounds in turn" if at_once is not None else f"x bare Flask (target >= {PREDICT_TO_BARE_FLASK_MIN})"),
            Row("Gunicorn /bench/ceiling", summary["ceiling_rps"], "req/s", summary["ceiling_to_bare_flask_ratio"], "x bare Flask"),
        ]
        if at_once is not None:
            predict_us = median([cpu_us_per_request([both["predict"]]) for both in measurements["direct"]["together"]])
            table.append(Row("  /predict and bare Flask at once on the core: /predict CPU", predict_us, "µs/req", at_once,
                             f"= bare CPU / predict CPU (target >= {PREDICT_TO_BARE_FLASK_MIN})"))
    table += [
        Row("Gunicorn /bench/ceiling", summary["ceiling_rps"], "req/s", 1.0, "the ceiling"),
        Row("Gunicorn /predict", summary["predict_rps"], "req/s", summary["predict_to_ceiling_ratio"], "x ceiling (target >= 0.8)"),
        Row("model limit, 1 row/call", summary["limit_rps"], "calls/s", summary["predict_to_limit_ratio"], "= /predict RPS / limit"),
        Row("server CPU per /bench/ceiling request", summary["ceiling_cpu_us_per_request"], "µs/req", 1.0, "itself"),
        Row("server CPU per /predict request", summary["predict_cpu_us_per_request"], "µs/req",
            summary["predict_to_ceiling_cpu_ratio"], "= ceiling CPU / predict CPU"),
    ]
    if summary["bare_flask_rps"] is not None:
        table.append(Row("server CPU per bare Flask request", summary["bare_flask_cpu_us_per_request"], "µs/req",
                         summary["predict_to_bare_flask_cpu_ratio"], "= bare CPU / predict CPU"))
    nginx = summary["nginx"]
    if "skipped" not in nginx:
        if nginx.get("direct_is_the_replica"):
            table.append(Row("api replica (1.0 CPU) /predict, direct", nginx["direct_rps"], "req/s", 1.0, "direct"))
        direct = "the replica direct" if nginx.get("direct_is_the_replica") else "direct /predict"
        table += [
            Row("Nginx -> api (1.0 CPU) GET /health", nginx["health_rps"], "req/s", None, ""),
            Row("Nginx -> api (1.0 CPU) /predict", nginx["predict_rps"], "req/s", nginx["predict_to_direct_ratio"],
                f"x {direct} (target >= {NGINX_TO_DIRECT_MIN})"),
        ]
        if nginx.get("published_rps") is not None:
            table.append(Row("  the same through the published port", nginx["published_rps"], "req/s",
                             nginx["published_to_direct_ratio"], "x the replica direct"))
        if nginx["stack_cpu_us_per_request"] is not None:
            table += [
                Row("  Nginx CPU per /predict request", nginx["nginx_cpu_us_per_request"], "µs/req",
                    ratio(nginx["nginx_cpu_us_per_request"], nginx["stack_cpu_us_per_request"]), "of the stack's CPU"),
                Row("  stack CPU (replica + Nginx) per request", nginx["stack_cpu_us_per_request"], "µs/req",
                    nginx["stack_per_cpu_to_direct_ratio"], "= direct CPU / stack CPU"),
            ]
        if nginx.get("port_proxy_cpu_us_per_request") is not None:
            table.append(Row("  Docker's port proxy CPU per request", nginx["port_proxy_cpu_us_per_request"], "µs/req",
                             ratio(nginx["port_proxy_cpu_us_per_request"], nginx["stack_cpu_us_per_request"]), "x the stack's CPU"))
    batch = summary["batch"]
    for size in ("100", "1000"):
        table.append(Row(f"batch of {size} over HTTP", batch[size]["predictions_per_s"], "pred/s",
                         batch[size]["to_single_row_ratio"], "x single-row /predict"))
    table.append(Row("batch of 1000 vs model alone", batch["1000"]["predictions_per_s"], "pred/s",
                     batch["1000"]["to_model_ratio"], f"x {method} batch limit"))
    if summary["p50_ms"] is not None:
        offered = f"{summary['latency_target_rps']:,.0f} req/s offered"
        table += [
            Row(f"p50 at {offered}", summary["p50_ms"], "ms", summary["latency_achieved_to_target_ratio"], "answered / offered (lowest)"),
            Row(f"p99 at {offered}", summary["p99_ms"], "ms", summary["p99_to_p50_ratio"], "x p50 (client's view)"),
        ]
        if summary["server_p99_ms"] is not None:
            table += [
                Row("  server's own p50 (access log)", summary["server_p50_ms"], "ms", ratio(summary["server_p50_ms"], summary["p50_ms"]), "x client p50"),
                Row("  server's own p99 (access log)", summary["server_p99_ms"], "ms", summary["server_p99_to_p50_ratio"], "x server p50 (target <= 5)"),
            ]
    for entry in summary["memory"]:
        table.append(Row(f"PSS, {entry['workers']} worker(s)", entry["pss_mib"], "MiB", entry["to_one_worker_ratio"], "x 1 worker"))
    return table


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_text(table: list[Row], summary: dict[str, Any]) -> str:
    """The table and the verdicts as fixed-width text for the terminal."""
    width = max(len(row.measure) for row in table)
    lines = [f"{'measure':<{width}}  {'value':>10}  {'unit':<8} {'ratio':>7}  of"]
    lines.append("-" * len(lines[0]) + "-" * 24)
    for row in table:
        lines.append(f"{row.measure:<{width}}  {_number(row.value):>10}  {row.unit:<8} {_number(row.ratio):>7}  {row.ratio_of}")
    workers = worker_class_table(summary)
    if len(workers) > 1:
        widths = [max(len(row[i]) for row in workers) for i in range(len(workers[0]))]
        lines += ["", "Worker classes, /predict at full speed:"]
        lines += ["  ".join(cell.rjust(width) if i > 1 else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths)))
                  for row in workers]
    lines.append("")
    lines.extend(_verdict_lines(summary))
    return "\n".join(lines)


def render_markdown(table: list[Row], summary: dict[str, Any], header: dict[str, Any]) -> str:
    """``bench.md``: where it ran, the table, and the verdicts."""
    versions = ", ".join(f"{name} {version}" for name, version in header["versions"].items())
    lines = [
        f"# Benchmark {header['started_at']}",
        "",
        f"CPU: {header['cpu_model']} ({header['cpus']} CPUs); {versions}; generator: {header['generator']}; "
        f"server: {header.get('direct_server') or 'unknown'}.",
        "",
        "| measure | value | unit | ratio | of |",
        "|---|---:|---|---:|---|",
    ]
    lines += [f"| {r.measure} | {_number(r.value)} | {r.unit} | {_number(r.ratio)} | {r.ratio_of} |" for r in table]
    workers = worker_class_table(summary)
    if len(workers) > 1:
        lines += ["", "Worker classes, /predict at full speed:", "", "| " + " | ".join(workers[0]) + " |",
                  "|" + "---|" * len(workers[0])]
        lines += ["| " + " | ".join(row) + " |" for row in workers[1:]]
    lines += ["", *[f"- {line}" for line in _verdict_lines(summary)], ""]
    return "\n".join(lines)


def _verdict_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for target in summary["targets"]:
        verdict = {True: "MET", False: "MISSED", None: "NOT JUDGED"}[target["met"]]
        lines.append(f"{verdict:<12} {target['name']}: {_number(target['value'])} (target {target['limit']})")
    if "skipped" in summary["nginx"]:
        lines.append(f"Nginx step skipped: {summary['nginx']['skipped']}")
    if summary["generator_saturated"]:
        lines.append(f"INVALID: a load generator used >= {SATURATION_CPU_FRACTION:.0%} of its core; "
                     "it, not the server, may have set the rate")
    if summary["errors"]:
        lines.append(f"INVALID: {summary['errors']} request(s) failed during the load runs")
    lowest = summary["latency_achieved_to_target_ratio"]
    if lowest is not None and lowest < KEPT_UP_FRACTION:
        lines.append(f"WARNING: {summary['latency_runs'] - summary['latency_runs_kept_up']} of {summary['latency_runs']} "
                     f"rate-limited runs answered less than {KEPT_UP_FRACTION:.0%} of the offered rate (lowest {lowest:.0%}): "
                     "their percentiles describe an overloaded server and are "
                     + ("left out" if summary["latency_runs_kept_up"] else "not judged"))
    if summary["disturbed_runs"]:
        lines.append(f"NOISE: in {summary['disturbed_runs']} of {summary['direct_runs']} direct runs other processes used "
                     f"over {DISTURBED_OTHERS_FRACTION:.0%} of the server's core (median {summary['others_cpu_fraction']:.0%}); "
                     "ratios of runs made back to back are the figures to trust")
    if summary["valid"]:
        lines.append("VALID: no generator saturated, no failed request")
    return lines
