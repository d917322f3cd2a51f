"""The simulated clients: their options, the rows they draw, the requests they get refused, how they judge answers.

Locust's own argument parser, the service's own schema and the Flask app judge
what the locustfile sends; real load runs are in test_loadtest_integration.py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections import Counter
from pathlib import Path

import locust.stats
import numpy as np
import pytest
from locust.env import Environment
from locust.event import Events
from locust.util.load_locustfile import load_locustfile

from bench.server import ROOT
from loadtest.locustfile import PredictApiUser, PredictMix, wait_time_from
from loadtest.model import ModelError, ServedModel, load_served_model, model_from_metadata
from loadtest.options import request_mix
from loadtest.payloads import (
    InvalidRequest, RowSampler, check_batch, check_prediction, check_refusal, invalid_requests,
)
from tests.conftest import parse_options
from training.artifact import load_artifact

SAMPLES = 6000


@pytest.fixture(autouse=True)
def _target(monkeypatch: pytest.MonkeyPatch) -> None:
    # Locust gives User classes the --host when it starts; nothing here sends a request.
    monkeypatch.setattr(PredictApiUser, "host", "http://127.0.0.1:9")


# --- the served model, read from its metadata ----------------------------------

ARTIFACTS = ("iris", "wine", "wine-ridge", "diabetes")


@pytest.fixture(params=ARTIFACTS)
def artifact(request: pytest.FixtureRequest, model_dir: Path, packaged) -> Path:
    """The artifact directory of Iris (trained), or of wine, wine without probabilities, or diabetes (packaged)."""
    return model_dir if request.param == "iris" else packaged(request.param)[1]


def served(artifact_dir: Path) -> ServedModel:
    return load_served_model(str(artifact_dir / "metadata.json"), None)


@pytest.fixture
def artifact_client(artifact: Path):
    from service import create_app

    return create_app({"TESTING": True, "MODEL_DIR": str(artifact)}).test_client()


def test_the_model_is_read_from_a_file_or_from_the_services_get_model(artifact: Path, artifact_client) -> None:
    from_file = served(artifact)
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert from_file == model_from_metadata(artifact_client.get("/model").get_json())
    assert from_file.feature_names == tuple(feature["name"] for feature in metadata["features"])
    assert from_file.task == metadata["task"] and from_file.name == metadata["name"]


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("sample"), "has no 'sample'"),
    (lambda m: m.update(task="ranking"), "task must be classification or regression"),
    (lambda m: m["sample"][0].pop(next(iter(m["sample"][0]))), "rows keyed by exactly its features"),
    (lambda m: m["sample"][0].update({m["features"][0]["name"]: m["features"][0]["maximum"] + 1}),
     "outside its features' valid ranges"),
])
def test_metadata_the_load_test_cannot_drive_is_refused_with_the_reason(model_dir: Path, change, message) -> None:
    metadata = json.loads((model_dir / "metadata.json").read_text())
    change(metadata)
    with pytest.raises(ModelError, match=message):
        model_from_metadata(metadata)


def test_an_unreadable_source_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"cannot read the model's metadata from http://127.0.0.1:9/model"):
        load_served_model("", "http://127.0.0.1:9")
    with pytest.raises(ModelError, match="is not a JSON document"):
        (tmp_path / "m.json").write_text("<html>")
        load_served_model(str(tmp_path / "m.json"), None)
    with pytest.raises(ModelError, match="no --host to ask GET /model, and no --model-metadata file"):
        load_served_model("", None)
    with pytest.raises(ModelError, match="cannot read the model's metadata from .*missing.json"):
        load_served_model(str(tmp_path / "missing.json"), None)


# --- sampled rows ------------------------------------------------------------

def test_every_sampled_row_is_valid_for_its_model(artifact: Path, artifact_client) -> None:
    model = served(artifact)
    sampler = RowSampler(model)
    rng = random.Random(20240521)
    rows = [sampler.row(rng) for _ in range(SAMPLES)]
    for row in rows:
        assert tuple(row) == model.feature_names
        assert all(feature.admits(row[feature.name]) for feature in model.features), row
    assert len({tuple(row.values()) for row in rows}) > SAMPLES // 2, "not one repeated row"
    response = artifact_client.post("/predict", json={"instances": rows[:500]})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_sampled_rows_stay_near_the_sample_and_keep_its_precision(model_dir: Path) -> None:
    model = served(model_dir)
    rng = random.Random(5)
    rows = [RowSampler(model).row(rng) for _ in range(SAMPLES)]
    for name in model.feature_names:
        values = [row[name] for row in rows]
        seen = [row[name] for row in model.sample]
        spread = max(seen) - min(seen)
        assert min(seen) - spread <= min(values) and max(values) <= max(seen) + spread, name
        assert all(round(value, 1) == value for value in values), "Iris is measured to 0.1 cm"
        assert statistics.fmean(values) == pytest.approx(statistics.fmean(seen), abs=0.1 * spread), name


def test_integer_features_stay_integers_and_bounds_hold() -> None:
    model = model_from_metadata({
        "name": "counts", "task": "regression", "target": "price", "self_test": {},
        "features": [{"name": "rooms", "type": "integer", "minimum": 1, "maximum": 3},
                     {"name": "area", "type": "number", "minimum": 0, "exclusive_minimum": True, "maximum": 50}],
        "sample": [{"rooms": 1, "area": 0.5}, {"rooms": 3, "area": 49.5}],
    })
    rng = random.Random(2)
    rows = [RowSampler(model).row(rng) for _ in range(2000)]
    assert {row["rooms"] for row in rows} == {1, 2, 3}
    assert all(type(row["rooms"]) is int for row in rows)
    assert all(0 < row["area"] <= 50 for row in rows)


def test_the_iris_model_sees_every_species(model_dir: Path) -> None:
    sampler = RowSampler(served(model_dir))
    rng = random.Random(3)
    X = np.array([list(sampler.row(rng).values()) for _ in range(3000)])
    shares = np.bincount(load_artifact(model_dir).model.predict(X), minlength=3) / len(X)
    assert shares.min() > 0.15, shares


def test_a_batch_holds_the_asked_number_of_independent_rows(model_dir: Path) -> None:
    batch = RowSampler(served(model_dir)).batch(random.Random(7), 25)
    assert list(batch) == ["instances"] and len(batch["instances"]) == 25
    assert len({tuple(row.values()) for row in batch["instances"]}) > 1


# --- answers of the real service, judged as the simulated users judge them ---

def test_the_service_answers_sampled_rows_and_batches(artifact: Path, artifact_client) -> None:
    model = served(artifact)
    sampler = RowSampler(model)
    rng = random.Random(3)
    for _ in range(20):
        response = artifact_client.post("/predict", json=sampler.row(rng))
        assert check_prediction(response.status_code, response.get_data(as_text=True), model) is None
    response = artifact_client.post("/predict", json=sampler.batch(rng, 10))
    assert check_batch(response.status_code, response.get_data(as_text=True), 10, model) is None


def _send(client, request: InvalidRequest):
    return client.open("/predict", method=request.method, data=request.body, content_type=request.content_type)


def test_every_invalid_request_is_refused_as_expected(artifact: Path, artifact_client) -> None:
    refusals = invalid_requests(served(artifact))
    assert len({request.name for request in refusals}) == len(refusals) == 8
    for request in refusals:
        response = _send(artifact_client, request)
        assert check_refusal(request, response.status_code, response.get_data(as_text=True)) is None, request.name


def test_a_refusal_with_another_status_or_code_is_a_failure(client, model_dir: Path) -> None:
    refusals = {request.name: request for request in invalid_requests(served(model_dir))}
    missing_field, wrong_type = refusals["missing_field"], refusals["wrong_content_type"]
    accepted = client.post("/predict", json=RowSampler(served(model_dir)).row(random.Random(1)))

    assert check_refusal(missing_field, accepted.status_code, accepted.get_data(as_text=True)) == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 200")
    refused = _send(client, wrong_type)
    assert check_refusal(missing_field, refused.status_code, refused.get_data(as_text=True)) == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 415 unsupported_media_type")
    assert check_refusal(missing_field, 500, "<html>Internal Server Error</html>") == (
        "missing_field: expected HTTP 400 validation_error, got HTTP 500")


def test_a_refused_prediction_is_a_failure_named_by_status_and_code(client, model_dir: Path) -> None:
    model = served(model_dir)
    response = _send(client, invalid_requests(model)[0])
    assert check_prediction(response.status_code, response.get_data(as_text=True), model) == (
        "HTTP 400 validation_error")
    assert check_batch(200, '{"predictions": [], "model_version": "x"}', 3, model) == "HTTP 200 without 3 predictions"


def _answer(client, model: ServedModel) -> dict:
    return client.post("/predict", json=RowSampler(model).row(random.Random(4))).get_json()


def test_a_classifiers_answer_outside_its_classes_or_probabilities_is_a_failure(client, model_dir: Path) -> None:
    model = served(model_dir)
    answer = _answer(client, model)
    assert check_prediction(200, json.dumps(answer), model) is None
    wrong = [
        ({**answer, "prediction": "rose"}, "HTTP 200 with a class the model does not have"),
        ({**answer, "probabilities": {"setosa": 1.0}}, "HTTP 200 without a probability for each class"),
        ({**answer, "probabilities": dict.fromkeys(model.class_names, 0.5)},
         "HTTP 200 with probabilities not summing to 1"),
        ({"model_version": "x"}, "HTTP 200 without a prediction"),
    ]
    for body, failure in wrong:
        assert check_prediction(200, json.dumps(body), model) == failure
    batch = {"predictions": [answer, {**answer, "prediction": "rose"}], "model_version": "x"}
    assert check_batch(200, json.dumps(batch), 2, model) == "HTTP 200 with a class the model does not have"


def test_a_classifier_without_probabilities_is_judged_on_its_class_alone(packaged) -> None:
    from service import create_app

    artifact = packaged("wine-ridge")[1]
    model = served(artifact)
    answer = _answer(create_app({"TESTING": True, "MODEL_DIR": str(artifact)}).test_client(), model)
    assert not model.predict_proba and "probabilities" not in answer
    assert check_prediction(200, json.dumps(answer), model) is None


def test_a_regressors_answer_must_be_a_finite_number(packaged) -> None:
    from service import create_app

    artifact = packaged("diabetes")[1]
    model = served(artifact)
    answer = _answer(create_app({"TESTING": True, "MODEL_DIR": str(artifact)}).test_client(), model)
    assert check_prediction(200, json.dumps(answer), model) is None
    for value in ("151.0", None, True, [1.0]):
        assert check_prediction(200, json.dumps({**answer, "prediction": value}), model) == (
            "HTTP 200 with a prediction that is not a finite number")
    assert check_prediction(200, '{"prediction": NaN}', model) == (
        "HTTP 200 with a prediction that is not a finite number")


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


def test_the_locustfile_sets_locusts_csv_flush_interval_to_its_write_interval_of_1_s() -> None:
    """deploy's live progress line reads the history while Locust runs; Locust's own flush interval is 5 s."""
    assert locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC == locust.stats.CSV_STATS_INTERVAL_SEC == 1
