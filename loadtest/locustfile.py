"""Locust clients of the inference service: ``locust`` (settings in ``locust.conf``).

The served model's features, task and sample rows come from its metadata: the
target's ``GET /model``, or ``--model-metadata`` (a file or URL), read when the
test starts, or for a headless local run when Locust starts (unreadable: one line,
exit 2). One ``User`` class per client behaviour. ``PredictApiUser`` speaks the JSON
API: single predictions of rows drawn around the model's sample rows, a share of
batches, and a small share of deliberately invalid requests (tag ``invalid``;
``--exclude-tags invalid`` drops them) whose expected 4xx counts as a success.
``OpenInferenceUser`` sends the same rows to the Open Inference Protocol's
``/v2/models/<name>/infer``; it runs only when named (``locust OpenInferenceUser``).
``NginxHealthUser`` asks Nginx's own ``/nginx-health``, which no replica answers:
the ceiling of the load generator and the host, also only when named.
Knobs: ``loadtest/options.py`` (``locust --help`` lists them). At the end of a
run the SLO verdict is logged, written next to the CSV files as
``PREFIX_verdict.json``, and sets the exit code (0 met, 1 missed).
"""

from __future__ import annotations

import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

# Locust imports this file as a top-level module; make the ``loadtest`` package
# importable whatever directory Locust was started from.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

import gevent  # noqa: E402
import locust.stats  # noqa: E402
from locust import FastHttpUser, TaskSet, between, events, tag, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from locust import log as locust_log  # noqa: E402
from locust.runners import LocalRunner, WorkerRunner  # noqa: E402

from loadtest import options as knobs  # noqa: E402
from loadtest.model import ModelError, ServedModel, load_served_model  # noqa: E402
from loadtest.open_inference import check_inference, infer_path, infer_request  # noqa: E402
from loadtest.payloads import (  # noqa: E402
    JSON, InvalidRequest, RowSampler, check_batch, check_prediction, check_refusal, invalid_requests,
)
from loadtest.rate_steps import RatePacer, RateSchedule  # noqa: E402
from loadtest.request_log import RequestLog  # noqa: E402
from loadtest.results import final_verdict, measured_window_s, rewrite_final_csv, write_verdict  # noqa: E402
from loadtest.selfwatch import CpuWatch  # noqa: E402
from loadtest.shapes import shape_from  # noqa: E402

logger = logging.getLogger("loadtest")
SLO_MISSED_EXIT_CODE = 1
USAGE_EXIT_CODE = 2  # as argparse exits on a bad option
PREDICT_PATH = "/predict"
NGINX_HEALTH_PATH = "/nginx-health"

# Locust writes a row of PREFIX_stats_history.csv every second but flushes the file
# only every few seconds; flushed as often as written, the history is live for
# whoever follows it (deploy's progress line). Locust's docs name these two
# settings for this ("Retrieve test statistics in CSV format").
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = locust.stats.CSV_STATS_INTERVAL_SEC

cpu_watch = CpuWatch()
# The --rate-steps schedule shared by every user (set up when Locust starts), and the --request-log.
schedule: RateSchedule | None = None
request_log: RequestLog | None = None
# time.time() when the users were last stopped (test_stop): the end of the window the verdict's figures cover.
stopped_at: float | None = None


class Target:
    """The served model and what is sent to it, read once per process when the test starts."""

    model: ServedModel | None = None
    sampler: RowSampler | None = None
    refusals: tuple[InvalidRequest, ...] = ()
    error: str | None = None

    @classmethod
    def load(cls, source: str, host: str | None) -> None:
        """Read the model's metadata (``loadtest.model.load_served_model``); on failure keep the reason in ``error``."""
        try:
            model = load_served_model(source, host)
        except ModelError as error:
            cls.error = str(error)
            return
        cls.model, cls.sampler, cls.refusals, cls.error = model, RowSampler(model), invalid_requests(model), None


class PredictMix(TaskSet):
    """One request per task, of the kind the request mix draws (``options.request_mix``)."""

    @tag("single")
    @task
    def predict_one(self) -> None:
        with self.client.post(PREDICT_PATH, json=Target.sampler.row(self.user.rng), name="/predict single",
                              catch_response=True) as response:
            self.user.judge(response, check_prediction(response.status_code, response.text, Target.model))

    @tag("batch")
    @task
    def predict_batch(self) -> None:
        size = self.user.environment.parsed_options.batch_size
        with self.client.post(PREDICT_PATH, json=Target.sampler.batch(self.user.rng, size), name="/predict batch",
                              catch_response=True) as response:
            self.user.judge(response, check_batch(response.status_code, response.text, size, Target.model))

    @tag("invalid")
    @task
    def send_invalid(self) -> None:
        request = self.user.rng.choice(Target.refusals)
        with self.client.request(request.method, PREDICT_PATH, data=request.body, name="/predict invalid",
                                 headers={"Content-Type": request.content_type, "Accept": JSON},
                                 catch_response=True) as response:
            self.user.judge(response, check_refusal(request, response.status_code, response.text))

    def get_next_task(self) -> Any:
        # Locust's @task weights are fixed when the class is defined; the shares
        # are options, read at each draw so the web UI and the master can change them.
        # self.tasks is what --tags/--exclude-tags left.
        options = self.user.environment.parsed_options
        shares = knobs.request_mix(options.batch_share, options.invalid_share)
        weights = [shares[t.__name__] for t in self.tasks]
        if sum(weights) == 0:  # e.g. --tags invalid with --invalid-share 0: the tags win
            weights = None
        return self.user.rng.choices(self.tasks, weights)[0]


class Schedule:
    """Open-model pacing of one user: a request every ``interval_s`` seconds on a fixed schedule.

    The first request waits a random phase within the interval, so users spawned in
    one batch do not fire together (Locust spawns a second's users at once, and its
    ``constant_throughput`` counts each user's period from its spawn: 100 users
    spawned together then send 100 requests at once, every period). An answer later
    than the interval delays the next request to its arrival, never makes the user
    catch up in a burst: the rate offered falls short, which the run's achieved
    rate shows.
    """

    def __init__(self, interval_s: float, rng: random.Random) -> None:
        self.interval_s = interval_s
        self.phase_s = rng.uniform(0.0, interval_s)
        self._due: float | None = None

    def start(self) -> float:
        """Seconds to wait before the first request (the phase); the schedule counts from then."""
        self._due = time.monotonic() + self.phase_s
        return self.phase_s

    def __call__(self, user: Any) -> float:
        """Seconds until the next request is due (0 when it is overdue)."""
        now = time.monotonic()
        self._due = max((self._due if self._due is not None else now) + self.interval_s, now)
        return self._due - now


class PacedUser(FastHttpUser):
    """What every client shares: its random draws, its wait (``--wait-model``) and how it judges a response."""

    abstract = True
    # Whether the user's requests are built from the served model's metadata (``Target``).
    needs_model = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.rng = random.Random()
        self._wait = wait_time_from(environment.parsed_options, self.rng)

    def on_start(self) -> None:
        if self.needs_model and Target.model is None:
            raise StopUser()  # the test is quitting: the model's metadata could not be read (logged once)
        if isinstance(self._wait, (Schedule, RatePacer)):
            gevent.sleep(self._wait.start())

    def wait_time(self) -> float:
        return self._wait(self)

    def judge(self, response: Any, failure: str | None) -> None:
        """Mark a ``catch_response`` response as failed with ``failure``, or as a success."""
        if response.status_code == 0:
            response.failure(f"no response: {response.error}")
        elif failure:
            response.failure(failure)
        else:
            response.success()


class PredictApiUser(PacedUser):
    """A client of ``POST /predict`` (see ``PredictMix``)."""

    tasks = [PredictMix]


class OpenInferenceMix(TaskSet):
    """One Open Inference Protocol request per task: a row, or at ``--batch-share`` a batch of ``--batch-size``."""

    @tag("single")
    @task
    def infer_one(self) -> None:
        self._infer([Target.sampler.row(self.user.rng)], "/v2 infer single")

    @tag("batch")
    @task
    def infer_batch(self) -> None:
        size = self.user.environment.parsed_options.batch_size
        self._infer(Target.sampler.batch(self.user.rng, size)["instances"], "/v2 infer batch")

    def _infer(self, rows: list[dict[str, float]], name: str) -> None:
        model = Target.model
        with self.client.post(infer_path(model), json=infer_request(rows, model), name=name,
                              catch_response=True) as response:
            self.user.judge(response, check_inference(response.status_code, response.text, len(rows), model))

    def get_next_task(self) -> Any:
        batch_share = self.user.environment.parsed_options.batch_share
        weights = [batch_share if t.__name__ == "infer_batch" else 1 - batch_share for t in self.tasks]
        return self.user.rng.choices(self.tasks, weights if sum(weights) else None)[0]


class OpenInferenceUser(PacedUser):
    """A client of the Open Inference Protocol's ``POST /v2/models/<name>/infer`` (see ``OpenInferenceMix``).

    Off unless chosen: ``locust OpenInferenceUser`` runs it alone, ``locust
    PredictApiUser OpenInferenceUser`` both, and ``--class-picker`` offers it in the web UI.
    """

    # Not a PredictApiUser subclass: Locust adds a base class's tasks to a subclass's.
    tasks = [OpenInferenceMix]


class NginxHealthUser(PacedUser):
    """A client of Nginx's own ``GET /nginx-health``: no replica is involved, so its
    highest rate is what the load generator, the host and Nginx can do at all.

    Off unless chosen: ``locust NginxHealthUser``.
    """

    needs_model = False

    @task
    def nginx_health(self) -> None:
        with self.client.get(NGINX_HEALTH_PATH, name=NGINX_HEALTH_PATH, catch_response=True) as response:
            self.judge(response, None if response.status_code == 200 else f"HTTP {response.status_code}")


# Users that run only when named on the command line or picked in the web UI.
CHOSEN_ONLY = (OpenInferenceUser, NginxHealthUser)


@events.init.add_listener
def _chosen_only_users_when_chosen(environment: Any, **_: Any) -> None:
    # Locust runs every User class of a locustfile unless some are named; the
    # workers spawn what the master sends them, so only the master decides.
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options.user_classes or options.class_picker:
        return
    environment.user_classes[:] = [cls for cls in environment.user_classes if cls not in CHOSEN_ONLY]


def wait_time_from(options: Any, rng: random.Random | None = None) -> Any:
    """The wait function: the ``--rate-steps`` schedule's when given (open model, ``loadtest.rate_steps``), else
    ``--wait-model``'s: Locust's ``between`` (closed model), or for ``constant_throughput`` (open model) a
    :class:`Schedule` of one request per 1 / ``--throughput-per-user`` s, its phase drawn from ``rng``."""
    if options.rate_steps:
        return schedule.pacer(rng or random.Random())
    if options.wait_model == "constant_throughput":
        return Schedule(1.0 / options.throughput_per_user, rng or random.Random())
    if options.wait_min_s > options.wait_max_s:
        raise ValueError(f"--wait-min-s {options.wait_min_s:g} is over --wait-max-s {options.wait_max_s:g}")
    return between(options.wait_min_s, options.wait_max_s)


@events.init_command_line_parser.add_listener
def _add_knobs(parser: Any, **_: Any) -> None:
    knobs.add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    global schedule, request_log
    options = environment.parsed_options
    if options.rate_steps:
        schedule = RateSchedule(options.rate_steps, options.num_users or 1)
    if options.request_log:
        request_log = RequestLog(Path(options.request_log))
        environment.events.request.add_listener(request_log.on_request)
    try:
        wait_time_from(options)  # contradictory wait options fail here, once, not in every user
        shape = None if isinstance(environment.runner, WorkerRunner) else shape_from(options)
    except ValueError as error:
        logger.error("%s", error)
        sys.exit(USAGE_EXIT_CODE)
    if shape is not None:
        shape.runner = environment.runner
        environment.shape_class = shape
        logger.info("load shape %s: %s", shape.name, _shape_summary(shape))
    if options.headless and isinstance(environment.runner, LocalRunner) and _needs_model(environment):
        # Read now, before any user starts, so an unreachable target is one line and exit 2.
        if not _load_model(options.model_metadata, environment.host):
            sys.exit(USAGE_EXIT_CODE)
    cpu_watch.attach(environment)


def _needs_model(environment: Any) -> bool:
    return any(getattr(cls, "needs_model", False) for cls in environment.user_classes)


def _load_model(model_metadata: str, host: str | None) -> bool:
    """Read the served model into ``Target`` and log what it is, or log why not; whether it was read."""
    Target.load(model_metadata, host)
    if Target.error is not None:
        logger.error("%s", Target.error)
        return False
    model = Target.model
    logger.info("model %s: %s, %d features, %d sample rows", model.name, model.task, len(model.features),
                len(model.sample))
    return True


@events.test_start.add_listener
def _read_the_model(environment: Any, **_: Any) -> None:
    # A headless local run read it at init. The web UI's host may change until the test starts,
    # and a worker learns the --host from the master with the start of the test.
    if not _needs_model(environment) or (environment.parsed_options.headless and Target.model is not None):
        return
    if not _load_model(environment.parsed_options.model_metadata, environment.host):
        gevent.spawn(environment.runner.quit)


@events.test_start.add_listener
def _start_the_schedule(environment: Any, **_: Any) -> None:
    started = time.time()
    if schedule is not None:
        schedule.start(started)
    if request_log is not None:
        request_log.start(started)


def _shape_summary(shape: Any) -> str:
    return ", ".join(f"{key}={value:g}" for key, value in vars(shape).items()
                     if isinstance(value, (int, float)) and key != "start_time")


@events.test_stop.add_listener
def _mark_the_stop(environment: Any, **_: Any) -> None:
    global stopped_at
    stopped_at = time.time()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if Target.error is not None:
        environment.process_exit_code = USAGE_EXIT_CODE
        return
    if environment.stats.total.num_requests == 0 and not options.headless:
        return  # the web UI was closed without a test
    # On Ctrl+C or SIGTERM Locust quits while users still run: stop them (a master
    # also collects its workers' last reports), so that no request is counted
    # after the verdict and the CSV files and the verdict hold the same numbers.
    environment.runner.quit()
    verdict, stats, slo = final_verdict(environment, cpu_watch.nodes())
    (logger.info if verdict.passed else logger.error)("%s", verdict.describe())
    if options.csv_prefix:
        rewrite_final_csv(environment, options.csv_prefix)
        write_verdict(Path(f"{options.csv_prefix}_verdict.json"), verdict, stats, slo, cpu_watch.nodes(),
                      measured_window_s(environment, stopped_at))
    if request_log is not None:
        request_log.close()
    if not locust_log.unhandled_greenlet_exception:  # keep Locust's own exit code 2 for a crash
        environment.process_exit_code = 0 if verdict.passed else SLO_MISSED_EXIT_CODE
