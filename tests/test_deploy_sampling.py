"""Container figures from the Docker stats API: CPU %, working set, throttling, as `docker stats` computes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.sampling import StatsSample, cpu_percent, memory_working_set, parse_stats, read_samples, summarize, write_samples

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "deploy"


@pytest.fixture
def recorded_v1() -> dict:
    """One stats document the engine sent for a replica under load (Docker 20.10, cgroup v1)."""
    return json.loads((FIXTURES / "docker_stats_cgroup_v1.json").read_text(encoding="utf-8"))


def test_cpu_percent_is_the_share_of_one_core_like_docker_stats(recorded_v1):
    # (2548942612 - 2291083020) / (2672440000000 - 2670420000000) * 2 CPUs * 100
    assert cpu_percent(recorded_v1) == pytest.approx(25.53, abs=0.01)


def test_the_first_reading_of_a_stream_has_no_cpu_percent(recorded_v1):
    recorded_v1["precpu_stats"] = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}
    assert cpu_percent(recorded_v1) is None


def test_memory_leaves_out_the_inactive_file_cache():
    cgroup_v1 = {"memory_stats": {"usage": 100_000, "stats": {"total_inactive_file": 30_000}}}
    # cgroup v2 names the counter without "total_" (Docker Engine API, ContainerStats).
    cgroup_v2 = {"memory_stats": {"usage": 100_000, "stats": {"inactive_file": 25_000}}}
    assert memory_working_set(cgroup_v1) == 70_000
    assert memory_working_set(cgroup_v2) == 75_000
    assert memory_working_set({"memory_stats": {"usage": 100_000}}) == 100_000


def test_a_recorded_reading_becomes_a_sample(recorded_v1):
    sample = parse_stats("api-1", 3.0, recorded_v1)
    assert sample.memory_bytes == 130547712  # usage, total_inactive_file is 0
    assert sample.memory_limit_bytes == 1048576000
    assert (sample.throttled_periods, sample.periods) == (0, 113)


def sample(replica: str, elapsed_s: float, cpu: float | None, memory_mib: int, throttled: int, periods: int) -> StatsSample:
    return StatsSample(replica, elapsed_s, cpu, memory_mib * 1024**2, 128 * 1024**2, throttled, periods)


def test_summary_adds_the_throttled_periods_of_every_replica_and_takes_the_memory_peak():
    samples = [
        sample("api-1", 0, None, 90, 10, 100), sample("api-1", 1, 40.0, 100, 15, 110), sample("api-1", 2, 60.0, 95, 25, 120),
        sample("api-2", 0, None, 80, 0, 50), sample("api-2", 1, 20.0, 85, 0, 60), sample("api-2", 2, 30.0, 120, 5, 70),
    ]
    summary = summarize(samples)
    assert summary.throttled_ratio == pytest.approx((15 + 5) / (20 + 20))
    assert summary.cpu_percent_mean == pytest.approx(37.5)
    assert summary.cpu_percent_peak == 60.0
    assert summary.memory_peak_bytes == 120 * 1024**2
    assert summary.samples == 6


def test_a_restarted_container_counts_from_its_new_start():
    samples = [sample("api-1", 0, None, 90, 50, 500), sample("api-1", 1, 90.0, 90, 8, 10), sample("api-1", 2, 90.0, 90, 16, 20)]
    assert summarize(samples).throttled_ratio == pytest.approx(16 / 20)


def test_no_samples_summarise_to_zeros():
    summary = summarize([])
    assert (summary.cpu_percent_mean, summary.throttled_ratio, summary.memory_peak_bytes, summary.samples) == (0, 0, 0, 0)


def test_samples_survive_a_round_trip_through_csv(tmp_path):
    samples = [sample("api-1", 0.0, None, 90, 10, 100), sample("api-1", 1.0, 40.5, 100, 15, 110)]
    write_samples(samples, tmp_path / "samples.csv")
    assert read_samples(tmp_path / "samples.csv") == samples
