"""The simulated clients: their options, the flowers they draw, the requests they get refused.

Locust's own argument parser, the service's own schema and the Flask app judge
what the locustfile sends; real load runs are in test_loadtest_integration.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import Counter
from pathlib import Path

import locust.stats
import numpy as np
import pytest
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from locust.env import Environment
from locust.event import Events
from locust.util.load_locustfile import load_locustfile
from sklearn.datasets import load_iris

from bench.server import ROOT
from loadtest import iris_stats
from loadtest.locustfile import PredictApiUser, PredictMix, wait_time_from
from loadtest.options import add_arguments, request_mix
from loadtest.payloads import (
    INVALID_REQUESTS, InvalidRequest, check_batch, check_prediction, check_refusal, sample_batch, sample_flower,
)
from service.schemas import FeaturesSchema
from training.artifact import load_artifact

SAMPLES = 6000


def parse_options(args: list[str], env: dict[str, str] | None = None, config: Path | None = None) -> argparse.Namespace:
    """Locust's real option parser with the load test's options, as ``locust`` builds it."""
    parser = get_empty_argument_parser(add_help=False, default_config_files=[str(config)] if config else [])
    setup_parser_arguments(parser)
    add_arguments(parser)
    return parser.parse_args(args, env_vars=env or {})


@pytest.fixture(autouse=True)
def _target(monkeypatch: pytest.MonkeyPatch) -> None:
    # Locust gives User classes the --host when it starts; nothing here sends a request.
    monkeypatch.setattr(PredictApiUser, "host", "http://127.0.0.1:9")


# --- the per-class statistics shipped with the load test ---------------------

def test_shipped_iris_statistics_match_scikit_learns_copy_of_the_data() -> None:
    iris = load_iris()
    assert tuple(iris.feature_names) == tuple(f"{name.replace('_', ' ')} (cm)" for name in iris_stats.FEATURE_NAMES)
    for class_id, class_name in enumerate(iris.target_names):
        rows = iris.data[iris.target == class_id]
        recomputed_mean, recomputed_std = rows.mean(axis=0), rows.std(axis=0, ddof=1)
        assert iris_stats.CLASS_MEAN_CM[class_name] == pytest.approx(recomputed_mean, abs=5e-5), (
            f"CLASS_MEAN_CM[{class_name!r}] should be {tuple(np.round(recomputed_mean, 4))}")
        assert iris_stats.CLASS_STD_CM[class_name] == pytest.approx(recomputed_std, abs=5e-5), (
            f"CLASS_STD_CM[{class_name!r}] should be {tuple(np.round(recomputed_std, 4))}")
    assert iris_stats.FEATURE_MIN_CM == pytest.approx(iris.data.min(axis=0))
    assert iris_stats.FEATURE_MAX_CM == pytest.approx(iris.data.max(axis=0))


# --- sampled flowers ---------------------------------------------------------

@pytest.fixture(scope="module")
def flowers() -> list[dict[str, float]]:
    rng = random.Random(20240521)
    return [sample_flower(rng) for _ in range(SAMPLES)]


def test_every_sampled_flower_passes_the_services_schema(flowers: list[dict[str, float]]) -> None:
    schema = FeaturesSchema()
    for flower in flowers:
        assert schema.validate(flower) == {}, flower
        assert all(0 < value <= 30 for value in flower.values())


def test_sampled_flowers_stay_within_what_fisher_measured(flowers: list[dict[str, float]]) -> None:
    for i, feature in enumerate(iris_stats.FEATURE_NAMES):
        values = [flower[feature] for flower in flowers]
        assert iris_stats.FEATURE_MIN_CM[i] <= min(values) and max(values) <= iris_stats.FEATURE_MAX_CM[i]
        assert all(round(value, 1) == value for value in values), "measurements are given to 0.1 cm"


def test_sampled_flowers_vary_like_the_real_data_set(flowers: list[dict[str, float]]) -> None:
    iris = load_iris()
    assert len({tuple(flower.values()) for flower in flowers}) > SAMPLES // 2, "not one repeated row"
    for i, feature in enumerate(iris_stats.FEATURE_NAMES):
        values = [flower[feature] for flower in flowers]
        # Clipping and rounding shift the mean a little; 0.1 cm is one unit of Fisher's measurements.
        assert statistics.fmean(values) == pytest.approx(iris.data[:, i].mean(), abs=0.1), feature
        assert statistics.stdev(values) == pytest.approx(iris.data[:, i].std(ddof=1), rel=0.15), feature


def test_the_model_sees_the_three_species_in_about_equal_shares(flowers: list[dict], model_dir: Path) -> None:
    model = load_artifact(model_dir).model
    X = np.array([[flower[name] for name in iris_stats.FEATURE_NAMES] for flower in flowers])
    shares = np.bincount(model.predict(X), minlength=3) / len(flowers)
    assert shares == pytest.approx([1 / 3] * 3, abs=0.05), shares


def test_a_batch_holds_the_asked_number_of_independent_flowers() -> None:
    batch = sample_batch(random.Random(7), 25)
    assert list(batch) == ["instances"] and len(batch["instances"]) == 25
    assert len({tuple(flower.values()) for flower in batch["instances"]}) > 1


# --- answers of the real service, judged as the simulated users judge them ---

def test_the_service_answers_sampled_flowers_and_batches(client) -> None:
    rng = random.Random(3)
    for _ in range(20):
        response = client.post("/predict", json=sample_flower(rng))
        assert check_prediction(response.status_code, response.get_data(as_text=True)) is None
    response = client.post("/predict", json=sample_batch(rng, 10))
    assert check_batch(response.status_code, response.get_data(as_text=True), 10) is None


def _send(client, request: InvalidRequest):
    return client.open("/predict", method=request.method, data=request.body, content_type=request.content_type)


@pytest.mark.parametrize("request_", INVALID_REQUESTS, ids=lambda request: request.name)
def test_every_invalid_request_is_refused_as_expected(client, request_: InvalidRequest) -> None:
    response = _send(client, request_)
    assert 400 <= response.status_code < 500
    assert check_refusal(request_, response.status_code, response.get_data(as_text=True)) is None


def test_a_refusal_with_another_status_or_code_is_a_failure(client) -> None:
    missing_field = next(request for request in INVALID_REQUESTS if request.name == "missing_field")
    wrong_type = next(request for request in INVALID_REQUESTS if request.name == "wrong_content_type")
    accepted = client.post("/predict", json=sample_flower(random.Random(1)))

    assert check_refusal(missing_field, accepted.status_code, accepted.get_data(as_text=True)) == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 200")
    refused = _send(client, wrong_type)
    assert check_refusal(missing_field, refused.status_code, refused.get_data(as_text=True)) == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 415 unsupported_media_type")
    assert check_refusal(missing_field, 500, "<html>Internal Server Error</html>") == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 500")


def test_a_refused_prediction_is_a_failure_named_by_status_and_code(client) -> None:
    response = _send(client, INVALID_REQUESTS[0])
    assert check_prediction(response.status_code, response.get_data(as_text=True)) == "HTTP 400 validation_error"
    assert check_batch(200, '{"predictions": [], "model_version": "x"}', 3) == "HTTP 200 without 3 predictions"


# --- options -----------------------------------------------------------------

def test_knobs_come_from_the_command_line_the_environment_and_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "locust.conf"
    config.write_text("batch-share = 0.4\nbatch-size = 50\nshape = step\n", encoding="utf-8")
    env = {"LOCUST_BATCH_SIZE": "20", "LOCUST_SLO_P95_MS": "150"}

    options = parse_options(["--invalid-share", "0.05", "--batch-size", "5"], env=env, config=config)

    assert options.invalid_share == 0.05
    assert options.batch_size == 5, "the command line beats the environment and the file"
    assert options.slo_p95_ms == 150.0, "the environment beats the default"
    assert options.batch_share == 0.4 and options.shape == "step", "the file beats the defaults"


@pytest.mark.parametrize("args", [
    ["--batch-share", "1.5"], ["--invalid-share", "-0.1"], ["--batch-size", "0"],
    ["--shape", "ramp"], ["--wait-model", "poisson"], ["--slo-p95-ms", "0"],
])
def test_out_of_range_knobs_are_refused(args: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_options(args)
    assert exit_info.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_the_projects_locust_conf_is_valid_and_runs_the_locustfile_without_a_shape() -> None:
    options = parse_options([], config=ROOT / "locust.conf")
    assert options.locustfile == "loadtest/locustfile.py"
    assert options.host == "http://localhost:8000"
    assert options.shape == "none"
    assert options.run_time, "a run without --run-time from the command line still stops by itself"


def test_the_locustfile_exposes_users_but_no_shape_class() -> None:
    # Locust runs any shape class it finds in the locustfile; --shape installs one instead.
    user_classes, shape_classes = load_locustfile(str(ROOT / "loadtest" / "locustfile.py"))
    assert "PredictApiUser" in user_classes
    assert shape_classes == []


# --- request mix and wait time ------------------------------------------------

def test_the_request_mix_splits_valid_requests_into_singles_and_batches() -> None:
    mix = request_mix(batch_share=0.25, invalid_share=0.2)
    assert mix == pytest.approx({"predict_one": 0.6, "predict_batch": 0.2, "send_invalid": 0.2})
    assert sum(request_mix(0.1, 0.02).values()) == pytest.approx(1.0)


def _user(options: argparse.Namespace) -> PredictApiUser:
    return PredictApiUser(Environment(user_classes=[PredictApiUser], parsed_options=options, events=Events()))


def _draws(options: argparse.Namespace, draws: int = 20_000) -> Counter:
    user = _user(options)
    user.rng.seed(11)
    mix = PredictMix(user)
    return Counter(mix.get_next_task().__name__ for _ in range(draws))


def test_users_draw_each_kind_of_request_in_its_configured_share() -> None:
    counts = _draws(parse_options(["--batch-share", "0.3", "--invalid-share", "0.1"]))
    expected = request_mix(0.3, 0.1)
    total = sum(counts.values())
    for name, share in expected.items():
        # 4 standard deviations of a binomial share: a wrong mix fails, chance does not.
        assert counts[name] / total == pytest.approx(share, abs=4 * (share * (1 - share) / total) ** 0.5), name


def test_excluding_the_invalid_tag_leaves_only_valid_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PredictApiUser, "tasks", list(PredictApiUser.tasks))
    monkeypatch.setattr(PredictMix, "tasks", list(PredictMix.tasks))
    options = parse_options(["--batch-share", "0.5", "--invalid-share", "0.5", "--exclude-tags", "invalid"])
    Environment(user_classes=[PredictApiUser], parsed_options=options, events=Events())._filter_tasks_by_tags()

    counts = _draws(options)

    assert set(counts) == {"predict_one", "predict_batch"}
    assert counts["predict_batch"] / sum(counts.values()) == pytest.approx(0.5, abs=0.02)


def test_closed_model_waits_between_the_configured_bounds() -> None:
    wait = wait_time_from(parse_options(["--wait-min-s", "0.2", "--wait-max-s", "0.4"]))
    waits = [wait(None) for _ in range(1000)]
    assert 0.2 <= min(waits) < 0.22 and 0.38 < max(waits) <= 0.4


def test_open_model_paces_each_user_to_its_throughput() -> None:
    options = parse_options(["--wait-model", "constant_throughput", "--throughput-per-user", "4"])
    user = _user(options)
    # A task that took (almost) no time waits (almost) the whole period of 1 / 4 requests per second.
    assert 0.2 < user.wait_time() <= 0.25


def test_contradictory_wait_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="--wait-min-s 2 is over --wait-max-s 1"):
        wait_time_from(parse_options(["--wait-min-s", "2", "--wait-max-s", "1"]))


def test_open_model_users_start_at_a_random_phase_and_keep_their_schedule(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("loadtest.locustfile.time.monotonic", lambda: clock[0])
    options = parse_options(["--wait-model", "constant_throughput", "--throughput-per-user", "0.5"])
    phases = [wait_time_from(options, random.Random(seed)).phase_s for seed in range(200)]
    assert 0 <= min(phases) < 0.2 and 1.8 < max(phases) < 2.0  # spread over the whole 2 s interval
    schedule = wait_time_from(options, random.Random(1))
    assert schedule.start() == schedule.phase_s
    clock[0] += schedule.phase_s + 0.3  # the first answer took 0.3 s
    assert schedule(None) == pytest.approx(1.7)  # the next request is due one interval after the first
    clock[0] += 1.7 + 2.5  # an answer later than the interval
    assert schedule(None) == 0  # the next request goes at once...
    clock[0] += 0.1
    assert schedule(None) == pytest.approx(1.9)  # ...and the schedule slips instead of catching up in a burst


def test_the_stats_history_reaches_the_disk_as_often_as_locust_writes_a_row() -> None:
    """deploy's live progress line reads the history while Locust runs; Locust's own flush interval is 5 s."""
    assert locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC == locust.stats.CSV_STATS_INTERVAL_SEC == 1
