"""The recommendation: the cheapest passing configuration, and one replica against several at (nearly) equal CPU."""

from __future__ import annotations

from deploy.matrix import parse_memory
from deploy.recommend import describe, format_bytes, recommend
from deploy.results import COMPLETED, FAIL, MARGINAL, NOT_READY, PASS, ConfigurationResult


def result(index: int, replicas: int, cpus: float, memory: str, verdict: str, rps: float = 150.0,
           p95_ms: float = 40.0, status: str = COMPLETED) -> ConfigurationResult:
    limit = parse_memory(memory)
    return ConfigurationResult(
        index=index, name=f"{replicas}x{cpus:g}cpu-{memory}", replicas=replicas, cpus=cpus, memory=memory,
        memory_limit_bytes=limit, workers=None, total_cpus=replicas * cpus, total_memory_bytes=replicas * limit,
        status=status, verdict=verdict, reason="why" if verdict != PASS else "fine",
        requests=1000 if status == COMPLETED else 0, requests_per_s=rps if status == COMPLETED else 0.0,
        p50_ms=10.0, p95_ms=p95_ms, p99_ms=2 * p95_ms,
    )


def test_cheapest_pass_is_least_total_cpu_then_least_memory():
    results = [
        result(1, 1, 2.0, "1000M", PASS),
        result(2, 3, 0.5, "250M", PASS),
        result(3, 1, 1.5, "500M", PASS),
        result(4, 1, 1.5, "400M", PASS),
        result(5, 1, 0.25, "128M", FAIL),
    ]
    assert recommend(results).cheapest_pass.index == 4


def test_a_cheaper_marginal_configuration_is_named_beside_the_pick():
    results = [result(1, 1, 2.0, "1000M", PASS), result(2, 1, 0.5, "250M", MARGINAL), result(3, 1, 4.0, "1G", MARGINAL)]
    recommendation = recommend(results)
    assert (recommendation.cheapest_pass.index, recommendation.cheapest_marginal.index) == (1, 2)
    assert "Cheaper but marginal: 1 × 0.5 CPU / 250M" in "\n".join(describe(recommendation))


def test_nothing_passing_is_said_plainly():
    recommendation = recommend([result(1, 1, 0.25, "128M", FAIL), result(2, 1, 0.5, "250M", FAIL,
                                                                            status=NOT_READY)])
    assert recommendation.cheapest_pass is None
    assert describe(recommendation)[0] == "**No configuration passed the SLO.**"


def test_replicated_rows_meet_the_single_instance_of_equal_cpu():
    results = [result(1, 1, 1.5, "750M", PASS, rps=160, p95_ms=40), result(2, 3, 0.5, "250M", FAIL, rps=80, p95_ms=800)]
    (comparison,) = recommend(results).comparisons
    assert comparison.equal_cpus
    text = "\n".join(describe(recommend(results)))
    assert "3 × 0.5 CPU / 250M (1.5 CPU) = 1 × 1.5 CPU / 750M (1.5 CPU)" in text
    assert "throughput 0.50×, p95 20.00×" in text
    assert "No replicated configuration has exactly" not in text


def test_without_an_exact_match_each_replicated_row_meets_the_nearest_single_instance():
    results = [
        result(1, 1, 2.0, "1000M", PASS, rps=160, p95_ms=40),
        result(2, 1, 0.5, "250M", PASS),
        result(3, 3, 0.5, "250M", PASS),
        result(4, 3, 1.0, "500M", FAIL, rps=100, p95_ms=700),
        result(5, 3, 2.0, "1000M", FAIL),
    ]
    recommendation = recommend(results, host_cpus=2)
    # 1.5 CPU is 0.5 from 2.0 and 1.0 from 0.5; 3.0 and 6.0 are nearest to 2.0.
    assert [(c.replicated.index, c.single.index) for c in recommendation.comparisons] == [(3, 1), (4, 1), (5, 1)]
    text = "\n".join(describe(recommendation))
    assert "3 × 1 CPU / 500M (3 CPU) > 1 × 2 CPU / 1000M (2 CPU): ❌ 100 req/s, p95 700 ms" in text
    assert "3 × 1 CPU / 500M asks for 3 CPU on a 2-CPU host" in text
    assert "No replicated configuration has exactly the total CPU of a single-instance one" in text


def test_a_single_instance_tie_goes_to_the_larger_one():
    results = [result(1, 1, 1.0, "500M", PASS), result(2, 1, 2.0, "1000M", PASS), result(3, 3, 0.5, "250M", PASS)]
    (comparison,) = recommend(results).comparisons
    assert comparison.single.index == 2


def test_byte_counts_read_like_docker_limits():
    assert [format_bytes(parse_memory(text)) for text in ("250M", "1500M", "3000M", "1G", "2G")] == \
        ["250M", "1500M", "3000M", "1G", "2G"]
    assert format_bytes(int(23.5 * 1024**3)) == "23.5G"
