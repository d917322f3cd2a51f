"""Matrix files: the shipped ones parse, and every mistake names its row and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.matrix import MatrixError, Search, load_matrix, parse_memory

MATRICES = Path(__file__).resolve().parent.parent / "deploy" / "matrices"

GOOD = """
[load]
users = 5
spawn_rate = 5
duration_s = 10
shape = "constant"

[slo]
max_failure_ratio = 0.01
p95_ms = 300
p99_ms = 1000
min_rps = 10

[[configuration]]
replicas = 1
cpus = 0.5
memory = "250M"

[[configuration]]
name = "small"
replicas = 3
cpus = 0.25
memory = "128m"
workers = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reference_matrix_meets_single_and_replicated_at_equal_total_cpu():
    matrix = load_matrix(MATRICES / "reference.toml")
    rows = [(c.replicas, c.cpus) for c in matrix.configurations]
    assert rows == [(1, 0.25), (2, 0.25), (4, 0.25), (1, 0.5), (2, 0.5), (3, 0.5), (1, 1.0), (1, 1.5), (1, 2.0), (3, 1.0)]
    totals = {}
    for configuration in matrix.configurations:
        totals.setdefault(configuration.total_cpus, set()).add(configuration.replicas)
    assert totals[0.5] == {1, 2} and totals[1.0] == {1, 2, 4} and totals[1.5] == {1, 3}
    # Replicas of one size share its memory limit, so N x c compares with N times 1 x c.
    by_cpus = {}
    for configuration in matrix.configurations:
        by_cpus.setdefault(configuration.cpus, set()).add(configuration.memory_limit_bytes)
    assert all(len(limits) == 1 for limits in by_cpus.values())
    assert (matrix.load.users, matrix.load.spawn_rate, matrix.load.duration_s, matrix.load.shape) == (100, 10, 60, "constant")
    assert (matrix.slo.max_failure_ratio, matrix.slo.p95_ms, matrix.slo.p99_ms) == (0.01, 300, 1000)
    assert matrix.search.pace_s * 1000 >= 1.5 * matrix.slo.p99_ms
    assert matrix.goal.rps and matrix.goal.headroom == 0.2


def test_smoke_matrix_is_two_short_small_rows():
    matrix = load_matrix(MATRICES / "smoke.toml")
    assert [(c.replicas, c.cpus) for c in matrix.configurations] == [(1, 0.25), (1, 0.5)]
    assert matrix.search.window_s <= 10
    assert matrix.search.max_users <= 900  # within Nginx's stock 1024 connections per worker
    assert matrix.load.duration_s <= 15
    assert all(c.cpus <= 0.5 and c.memory_limit_bytes <= 256 * 1024**2 for c in matrix.configurations)


def test_rows_get_totals_names_and_optional_workers(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD))
    first, second = matrix.configurations
    assert (first.index, first.name, first.workers) == (1, "1x0.5cpu-250M", None)
    assert (second.index, second.name, second.workers) == (2, "small", 2)
    assert second.total_cpus == 0.75
    assert second.total_memory_bytes == 3 * 128 * 1024**2
    assert second.label == "3 × 0.25 CPU / 128m / 2 workers"


@pytest.mark.parametrize(("text", "value"), [
    ("250M", 250 * 1024**2), ("1G", 1024**3), ("512m", 512 * 1024**2), ("1.5GiB", int(1.5 * 1024**3)),
    ("100MB", 100 * 1024**2), ("65536k", 64 * 1024**2), ("8388608b", 8 * 1024**2),
])
def test_memory_sizes_use_dockers_binary_units(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["128", 128, "250 MiBs", "M", "-1G", "4M", "2T", "99999999999G", "9" * 400 + "M"])
def test_memory_without_a_unit_or_under_dockers_minimum_is_refused(text):
    with pytest.raises(ValueError):
        parse_memory(text)


def replace_row(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(("text", "message"), [
    (replace_row("replicas = 1", "replicas = 0"), "configuration 1: replicas must be greater than 0, got 0"),
    (replace_row("cpus = 0.25", "cpus = -0.5"), "configuration 2 (small): cpus must be at least 0.01, got -0.5"),
    (replace_row('memory = "250M"', "memory = 250"), "configuration 1: memory must be a string with a unit"),
    (replace_row('memory = "250M"', 'memory = "250"'), "configuration 1: memory '250' is not a memory size with a unit"),
    (replace_row("workers = 2", "workers = 2\nthreads = 4"), "configuration 2 (small): unknown key 'threads'"),
    (replace_row("replicas = 1", "replica = 1"), "configuration 1: unknown key 'replica'"),
    (replace_row("replicas = 1", "replicas = 1.5"), "configuration 1: replicas must be an integer, got 1.5"),
    (replace_row("replicas = 1", "replicas = true"), "configuration 1: replicas must be an integer, got True"),
    (replace_row("cpus = 0.5\n", ""), "configuration 1: missing key 'cpus'"),
    (replace_row("workers = 2", "workers = 0"), "configuration 2 (small): workers must be greater than 0"),
    (replace_row('name = "small"', 'name = "1x0.5cpu-250M"'),
     "configuration 2: name '1x0.5cpu-250M' is already used by configuration 1"),
    (replace_row('name = "small"', 'name = "a b"'), "name must be letters, digits"),
    (replace_row("users = 5", "users = 5\nthink_time = 1"), "[load]: unknown key 'think_time'"),
    (replace_row('shape = "constant"', 'shape = "ramp"'), "[load]: shape must be one of none, constant, step, spike, got 'ramp'"),
    (replace_row("p95_ms = 300", "p95_ms = 0"), "[slo]: p95_ms must be greater than 0"),
    (replace_row("max_failure_ratio = 0.01", "max_failure_ratio = 2"), "[slo]: max_failure_ratio is a ratio between 0 and 1"),
    (replace_row("[slo]", "[slos]"), "the top level: unknown key 'slos'"),
    (GOOD.split("[[configuration]]")[0], "needs at least one [[configuration]] table"),
    ("[load\n", "not valid TOML"),
])
def test_bad_matrices_are_refused_naming_the_row_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(MatrixError) as raised:
        load_matrix(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_only_selects_rows_by_index_or_name_in_matrix_order(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD))
    assert [c.index for c in matrix.select(["small", "1"])] == [1, 2]
    assert [c.index for c in matrix.select(["2"])] == [2]
    assert [c.index for c in matrix.select([])] == [1, 2]
    with pytest.raises(MatrixError, match="^--only '3' matches no configuration; known: 1 \\(1x0.5cpu-250M\\), 2 \\(small\\)"):
        matrix.select(["3"])
    with pytest.raises(MatrixError, match="^--redo '9' matches no configuration"):
        matrix.select(["9"], "--redo")


@pytest.mark.parametrize(("old", "new", "message"), [
    # Docker refuses these only once the run has started; the matrix refuses them before.
    ('memory = "250M"', 'memory = "' + "9" * 400 + 'M"', "configuration 1: memory '9999"),
    ('memory = "250M"', 'memory = "99999999999G"', "configuration 1: memory '99999999999G' is over 1T"),
    ("cpus = 0.5", "cpus = 0.0001", "configuration 1: cpus must be at least 0.01, got 0.0001"),
    ("cpus = 0.5", "cpus = 1e308", "configuration 1: cpus must be at most 1024, got 1e+308"),
    ("replicas = 1", "replicas = 100000", "configuration 1: replicas must be at most 100, got 100000"),
    ("workers = 2", "workers = 100000", "configuration 2 (small): workers must be at most 256, got 100000"),
    ('name = "small"', 'name = "' + "n" * 300 + '"', "configuration 2: name must be at most 64 characters, got 300"),
])
def test_values_docker_would_refuse_and_overlong_names_are_one_matrix_error(tmp_path, old, new, message):
    path = write(tmp_path, replace_row(old, new))
    with pytest.raises(MatrixError) as raised:
        load_matrix(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300


def test_a_space_before_the_memory_unit_is_dockers_form_and_stays_out_of_the_name(tmp_path):
    first = load_matrix(write(tmp_path, replace_row('memory = "250M"', 'memory = " 256 M"'))).configurations[0]
    assert (first.name, first.memory, first.memory_limit_bytes) == ("1x0.5cpu-256M", "256 M", 256 * 1024**2)


def test_a_generated_name_too_long_asks_for_a_name(tmp_path):
    path = write(tmp_path, replace_row('memory = "250M"', 'memory = "' + "0" * 80 + '256M"'))
    with pytest.raises(MatrixError, match="the name made from replicas, cpus and memory.*give the row a name"):
        load_matrix(path)


def test_a_matrix_without_search_or_goal_gets_the_defaults(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD))
    assert matrix.search == Search()
    assert (matrix.search.start_rps, matrix.search.window_s, matrix.search.max_probes, matrix.search.bracket) == \
        (25, 15, 8, 0.1)
    assert matrix.search.max_rps == 900 / 2.5 and matrix.search.probe_s == 25
    assert (matrix.goal.rps, matrix.goal.headroom, matrix.goal.required_rps) == (None, 0.2, None)


def test_search_and_goal_are_read_and_a_long_p99_stretches_the_default_pace(tmp_path):
    text = GOOD.replace("[[configuration]]", "[search]\nstart_rps = 40\nwindow_s = 8\nmax_probes = 5\n"
                        "bracket = 0.2\n\n[goal]\nrps = 300\nheadroom = 0.25\n\n[[configuration]]", 1)
    matrix = load_matrix(write(tmp_path, text))
    assert (matrix.search.start_rps, matrix.search.window_s, matrix.search.max_probes, matrix.search.bracket) == \
        (40, 8, 5, 0.2)
    assert matrix.goal.required_rps == pytest.approx(375)
    slow = load_matrix(write(tmp_path, GOOD.replace("p99_ms = 1000", "p99_ms = 3000")))
    assert slow.search.pace_s == pytest.approx(4.5)  # 1.5 x the p99


@pytest.mark.parametrize(("table", "message"), [
    ("[search]\nwindow = 10", "[search]: unknown key 'window'"),
    ("[search]\nmax_probes = 0", "[search]: max_probes must be at least 1, got 0"),
    ("[search]\nbracket = 1.5", "[search]: bracket must be at most 1, got 1.5"),
    ("[search]\npace_s = 1", "[search]: pace_s 1 must be at least 1.5 x the SLO's p99"),
    ("[search]\nstart_rps = 500\nmax_users = 100", "[search]: start_rps 500 is over what max_users 100"),
    ("[goal]\nrps = 0", "[goal]: rps must be greater than 0"),
    ("[goal]\nrps = 100\nmargin = 0.2", "[goal]: unknown key 'margin'"),
])
def test_bad_search_or_goal_settings_are_refused_naming_the_key(tmp_path, table, message):
    with pytest.raises(MatrixError, match=re.escape(message)):
        load_matrix(write(tmp_path, GOOD.replace("[[configuration]]", table + "\n\n[[configuration]]", 1)))


def test_a_spike_that_ends_after_the_run_time_is_refused_before_anything_starts(tmp_path, monkeypatch):
    """locust.conf's spike starts at 20 s and lasts 15 s: a 20 s run cannot hold it, a 35 s run can."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "locust.conf").write_text("# spike\nspike-at-s = 20\nspike-duration-s = 15\n", encoding="utf-8")
    for name in ("LOCUST_SPIKE_AT_S", "LOCUST_SPIKE_DURATION_S"):
        monkeypatch.delenv(name, raising=False)
    spike = replace_row('shape = "constant"', 'shape = "spike"')
    path = write(tmp_path, spike.replace("duration_s = 10", "duration_s = 20"))
    with pytest.raises(MatrixError) as raised:
        load_matrix(path)
    assert str(raised.value).startswith(f"{path}: [load]: duration_s 20 is too short for the shape: spike shape: "
                                        "the spike ends at 35 s, after the run time of 20 s")
    assert load_matrix(write(tmp_path, spike.replace("duration_s = 10", "duration_s = 35"))).load.duration_s == 35
    monkeypatch.setenv("LOCUST_SPIKE_DURATION_S", "5")
    assert load_matrix(write(tmp_path, spike.replace("duration_s = 10", "duration_s = 25"))).load.shape == "spike"


def test_a_spike_timed_by_the_options_defaults_without_locust_conf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("LOCUST_SPIKE_AT_S", "LOCUST_SPIKE_DURATION_S"):
        monkeypatch.delenv(name, raising=False)
    spike = replace_row('shape = "constant"', 'shape = "spike"')
    with pytest.raises(MatrixError, match="the spike ends at 40 s, after the run time of 39 s"):
        load_matrix(write(tmp_path, spike.replace("duration_s = 10", "duration_s = 39")))
