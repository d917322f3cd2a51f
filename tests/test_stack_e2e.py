"""The container stack on a real Docker engine: compose.yaml, the image, Nginx and its replicas.

The image is built once per session with ``make build``; each stack runs under a
compose project of its own (``api-inference-e2e-<random>``) on a free localhost
port, so a stack the user runs (project ``api-inference``) is never touched, and
is torn down with ``docker compose down -v --remove-orphans`` even when a test
fails. Every request stream is bounded in requests and in seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import requests
from docker.models.containers import Container

from bench.server import ROOT, free_port
from stack.wait import wait_until
from deploy.containers import gunicorn_workers
from service import create_app
from service.config import DEFAULT_MAX_BODY_BYTES
from stack.compose import Compose, environment
from tests.conftest import SEED_REQUEST

pytestmark = [pytest.mark.docker, pytest.mark.slow]

API_PORT = 8000
# Small asks: the test machine may have 2 cores shared with other work.
REPLICAS = 3
API_CPUS = 0.5
API_MEMORY = "256M"
MIB = 1024 * 1024
COMPOSE_TIMEOUT_S = 180
# Nginx re-resolves `api` every 5 s (resolver valid=5s) and parks a failing
# replica for 5 s (fail_timeout=5s): a change in the replicas shows within ~10 s.
SETTLE_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = (5.0, 45.0)
GUNICORN_GRACEFUL_TIMEOUT_S = 8  # service/gunicorn.conf.py default
REGISTRY = "127.0.0.1:5000"
PUSHED_IMAGE = f"{REGISTRY}/api-inference:test"
# Nginx's own errors: status -> code, as in nginx/default.conf.template.
NGINX_ERROR_CODES = {502: "bad_gateway", 503: "overloaded", 504: "gateway_timeout"}


def run(command: list[str], *, env: dict[str, str] | None = None, timeout_s: float = COMPOSE_TIMEOUT_S) -> str:
    """Run a command in the repository; raise ``AssertionError`` with its output when it fails."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@dataclass
class Stack:
    """One compose project running compose.yaml, and how to reach and inspect it.

    ``cli`` reads no file of its own: run in the repository, Compose reads the files a
    user's `docker compose up` reads (compose.yaml, and compose.override.yaml if present).
    """

    cli: Compose
    port: int
    client: docker.DockerClient

    @property
    def project(self) -> str:
        return self.cli.project

    @property
    def env(self) -> dict[str, str]:
        return self.cli.env or {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str) -> str:
        """``docker compose ARGS`` for this project; raises StackError with the end of its output when it fails."""
        return self.cli.run(*args, timeout_s=COMPOSE_TIMEOUT_S)

    def scale(self, replicas: int) -> None:
        """Start or stop api replicas until ``replicas`` run healthy; Nginx is left running."""
        self.compose("up", "-d", "--no-build", "--no-recreate", "--wait", "--wait-timeout", "120", "--scale", f"api={replicas}")

    def containers(self, service: str) -> list[Container]:
        """The service's running containers."""
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]
        return self.client.containers.list(filters={"label": labels})

    def nginx(self) -> Container:
        (container,) = self.containers("nginx")
        return container

    def api_addresses(self) -> set[str]:
        """``ip:port`` of every running api replica, as Nginx's X-Upstream-Addr names them."""
        network = f"{self.project}_default"
        return {f"{c.attrs['NetworkSettings']['Networks'][network]['IPAddress']}:{API_PORT}" for c in self.containers("api")}

    def access_log(self, request_id: str) -> list[dict]:
        """Nginx's JSON access-log entries for ``request_id``; waits up to 10 s for the first to arrive."""
        entries: list[dict] = []

        def logged() -> bool:
            lines = self.nginx().logs(stdout=True, stderr=False).decode().splitlines()
            entries[:] = [entry for entry in map(json.loads, (line for line in lines if line.startswith("{")))
                          if entry["request_id"] == request_id]
            return bool(entries)

        wait_until(logged, 10)
        return entries

    def predict(self, session: requests.Session, **kwargs) -> requests.Response:
        return session.post(f"{self.url}/predict", json=SEED_REQUEST, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def settle(self, session: requests.Session) -> float:
        """Wait until the replicas answering through Nginx are exactly the running ones; seconds taken."""
        started = time.monotonic()
        expected = self.api_addresses()
        seen: set[str] = set()

        def settled() -> bool:
            responses = [self.predict(session) for _ in range(3 * len(expected))]
            seen.clear()
            seen.update(r.headers.get("X-Upstream-Addr", "") for r in responses)
            return seen == expected and all(r.status_code == 200 for r in responses)

        assert wait_until(settled, SETTLE_TIMEOUT_S, interval_s=0.5), (
            f"after {SETTLE_TIMEOUT_S} s Nginx sends to {sorted(seen)}, the running replicas are {sorted(expected)}, "
            f"Docker's DNS answers {self.dns_answer()} for `api`")
        return time.monotonic() - started

    def dns_answer(self) -> list[str]:
        """What Docker's embedded DNS answers for `api` inside the Nginx container.

        On a Docker 20.10 engine, `docker swarm leave` wipes every container's
        DNS records, on every network, until the container restarts: another
        program leaving a swarm during a test shows here.
        """
        _, output = self.nginx().exec_run(["getent", "ahostsv4", "api"])
        return sorted({f"{line.split()[0]}:{API_PORT}" for line in output.decode().splitlines() if line.strip()})


@contextmanager
def compose_stack(image: str, client: docker.DockerClient, *services: str, **settings: str) -> Iterator[Stack]:
    """Run compose.yaml (all services, or only ``services``) under a new project until healthy; remove it on exit.

    ``settings`` are compose.yaml's variables (API_REPLICAS, API_CPUS, API_MEMORY,
    WEB_CONCURRENCY); the image is ``image``, the published port a free one.
    """
    inherited = {k: v for k, v in os.environ.items() if k not in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME")}
    env = environment(port=free_port(), replicas=REPLICAS, cpus=API_CPUS, memory=API_MEMORY, image=image, base=inherited)
    env.update(settings)
    stack = Stack(Compose(f"api-inference-e2e-{uuid.uuid4().hex[:8]}", ROOT, env), port=int(env["PORT"]), client=client)
    try:
        stack.compose("up", "-d", "--no-build", "--wait", "--wait-timeout", "120", *services)
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")


@pytest.fixture(scope="session")
def docker_client(docker_engine: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def stack_image(docker_engine: None) -> Iterator[str]:
    """The api image, built once per session by ``make build`` under a tag of its own, removed at the end."""
    tag = f"api-inference:e2e-{uuid.uuid4().hex[:8]}"
    run(["make", "build", f"IMAGE={tag}"], timeout_s=900)
    yield tag
    subprocess.run(["docker", "image", "rm", tag], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def stack(stack_image: str, docker_client: docker.DockerClient) -> Iterator[Stack]:
    """Nginx and three api replicas (0.5 CPU, 256 MiB each), shared by this module's tests, which run in the
    file's order: those that need three replicas use ``three_replicas``, which only starts what an earlier
    test stopped; the kill, the scaling and then the stop of every replica come last."""
    with compose_stack(stack_image, docker_client) as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def three_replicas(stack: Stack, session: requests.Session) -> Stack:
    """The shared stack back at three healthy replicas, all of them answering through Nginx."""
    stack.scale(REPLICAS)
    stack.settle(session)
    return stack


def last_tried(upstream_addr: str) -> str:
    """The replica that answered, from X-Upstream-Addr ("a, b" after a retry, "a : b" after a second pass)."""
    return re.split(r", | : ", upstream_addr)[-1]


@dataclass
class Outcome:
    """One request of a stream: when it ended, its status (None: no HTTP answer) and who answered."""

    ended_s: float
    status: int | None
    upstream: str
    error: str = ""


@dataclass
class StreamReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def after(self, moment_s: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.ended_s >= moment_s]

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]


def stream_during(stack: Stack, action: Callable[[], None], *, trailing_s: float = 6.0, concurrency: int = 4,
                  max_requests: int = 3000, max_seconds: float = 90.0) -> tuple[StreamReport, float, float]:
    """Send the seed request from ``concurrency`` clients while ``action`` runs and ``trailing_s`` after it.

    Stops at ``max_requests`` or ``max_seconds``, whichever comes first. Returns
    the outcomes and the moments (time.monotonic()) the action started and returned.
    """
    report = StreamReport()
    stop = threading.Event()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    warmed_up = threading.Event()

    def client() -> None:
        with requests.Session() as http:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    if len(report.outcomes) >= max_requests:
                        return
                try:
                    response = stack.predict(http)
                    outcome = Outcome(time.monotonic(), response.status_code, response.headers.get("X-Upstream-Addr", ""),
                                      "" if response.ok else response.text[:300])
                except requests.RequestException as exc:
                    outcome = Outcome(time.monotonic(), None, "", repr(exc))
                with lock:
                    report.outcomes.append(outcome)
                    if len(report.outcomes) >= 20:
                        warmed_up.set()
                # Paced, so the stream measures failover rather than saturating the host.
                time.sleep(0.01)

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(client) for _ in range(concurrency)]
        try:
            assert warmed_up.wait(30), "the request stream did not get going"
            action_started = time.monotonic()
            action()
            action_returned = time.monotonic()
            stop.wait(trailing_s)
        finally:
            stop.set()
            for future in futures:
                future.result()
    return report, action_started, action_returned


def test_requests_are_spread_evenly_over_three_replicas(three_replicas: Stack, session: requests.Session) -> None:
    stack = three_replicas
    responses = [stack.predict(session) for _ in range(30)]

    assert [r.status_code for r in responses] == [200] * 30
    assert all(r.json()["prediction"] == "setosa" for r in responses)
    answered = Counter(r.headers["X-Upstream-Addr"] for r in responses)
    assert set(answered) == stack.api_addresses()
    assert sorted(answered.values()) == [10, 10, 10]


def test_request_id_is_passed_through_and_logged_as_json(three_replicas: Stack, session: requests.Session) -> None:
    stack = three_replicas
    response = session.post(f"{stack.url}/predict", json={"sepal_length": 5.1}, headers={"X-Request-ID": "e2e-trace-42"},
                            timeout=REQUEST_TIMEOUT_S)

    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "e2e-trace-42"
    assert response.json()["request_id"] == "e2e-trace-42"
    assert response.json()["error"]["code"] == "validation_error"  # the replica's own answer, untouched

    # Without a caller's id, the one Nginx made (and logged) is the one the replica used.
    nginx_made = stack.predict(session).headers["X-Request-ID"]

    (traced,) = stack.access_log("e2e-trace-42")
    assert traced["status"] == 400
    assert traced["request"].startswith("POST /predict ")
    assert traced["upstream_addr"] == response.headers["X-Upstream-Addr"]
    assert float(traced["upstream_response_time_s"]) >= 0
    assert [entry["status"] for entry in stack.access_log(nginx_made)] == [200]


def test_body_limit_matches_the_service_and_nginx_refuses_larger_bodies_as_json(stack: Stack, session: requests.Session,
                                                                                   model_dir: Path) -> None:
    at_limit = json.dumps(SEED_REQUEST).encode().ljust(DEFAULT_MAX_BODY_BYTES)
    accepted = session.post(f"{stack.url}/predict", data=at_limit, headers={"Content-Type": "application/json"},
                            timeout=REQUEST_TIMEOUT_S)
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["X-Upstream-Addr"]

    too_large = at_limit + b" "
    refused = session.post(f"{stack.url}/predict", data=too_large, headers={"Content-Type": "application/json", "X-Request-ID": "e2e-big-1"},
                           timeout=REQUEST_TIMEOUT_S)
    assert refused.status_code == 413
    assert refused.headers["Content-Type"] == "application/json"
    assert "X-Upstream-Addr" not in refused.headers, "Nginx refused it; no replica saw it"
    assert refused.headers["X-Request-ID"] == "e2e-big-1"
    # The same error a replica gives for a body over the limit, so clients see one shape.
    app = create_app({"TESTING": True, "MODEL_DIR": str(model_dir), "MAX_CONTENT_LENGTH": DEFAULT_MAX_BODY_BYTES})
    from_service = app.test_client().post("/predict", data=too_large, headers={"Content-Type": "application/json"})
    assert from_service.status_code == 413
    assert refused.json() == {"error": from_service.get_json()["error"], "request_id": "e2e-big-1"}


def test_requests_a_replica_cannot_parse_come_back_as_json_through_nginx(stack: Stack, session: requests.Session) -> None:
    # Nginx passes 101 headers on; Gunicorn's limit is 100 (limit_request_fields).
    headers = {f"X-Extra-{i}": "1" for i in range(101)}
    response = session.get(f"{stack.url}/health", headers=headers, timeout=REQUEST_TIMEOUT_S)

    assert response.status_code == 431
    assert response.headers["X-Upstream-Addr"] in stack.api_addresses()
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "request_header_fields_too_large"


def test_killing_a_replica_loses_at_most_the_responses_it_was_writing(three_replicas: Stack,
                                                                      session: requests.Session) -> None:
    stack = three_replicas
    victim = stack.containers("api")[0]
    victim_address = f"{victim.attrs['NetworkSettings']['Networks'][f'{stack.project}_default']['IPAddress']}:{API_PORT}"
    victim_workers = gunicorn_workers(victim)

    report, kill_sent, killed = stream_during(stack, victim.kill)

    assert len(report.after(kill_sent)) >= 100, "too few requests after the kill to show anything"
    # SIGKILL between a worker's write of a response's headers and of its body cuts that response:
    # Nginx has passed the headers on and retries only what has not begun (proxy_next_upstream).
    # One such response per worker of the victim at most, ended by the kill; nothing else fails.
    cut = [o for o in report.failures() if o.status is None and "IncompleteRead" in o.error and o.ended_s >= kill_sent]
    assert [o for o in report.failures() if o not in cut] == []
    assert len(cut) <= victim_workers
    survivors = stack.api_addresses()
    assert victim_address not in survivors and len(survivors) == REPLICAS - 1
    # Once the kill took effect, survivors answered everything (the last address
    # Nginx tried). Nginx may still try the dead replica first until its next DNS
    # answer drops it (valid=5s, later on a busy engine); then it leaves the pool.
    assert {last_tried(o.upstream) for o in report.after(killed + 0.5)} <= survivors
    stack.settle(session)  # only the survivors are tried, within SETTLE_TIMEOUT_S


def test_scaling_up_and_down_needs_no_nginx_restart_and_loses_no_request(stack: Stack, session: requests.Session) -> None:
    # From whatever the tests before left running (the kill test leaves two replicas): up to five, down to two.
    nginx_before = stack.nginx().attrs

    run(["make", "scale", "N=5", f"IMAGE={stack.env['IMAGE']}", f"COMPOSE={' '.join(stack.cli.command())}"], env=stack.env)
    assert len(stack.api_addresses()) == 5
    stack.settle(session)  # all five answer, within SETTLE_TIMEOUT_S

    report, scaled_at, _ = stream_during(stack, lambda: stack.scale(2))

    assert len(report.after(scaled_at)) >= 100, "too few requests while scaling down to show anything"
    assert report.failures() == []
    assert len(stack.api_addresses()) == 2
    stack.settle(session)
    nginx_after = stack.nginx().attrs
    assert nginx_after["Id"] == nginx_before["Id"]
    assert nginx_after["State"]["StartedAt"] == nginx_before["State"]["StartedAt"]
    assert nginx_after["RestartCount"] == nginx_before["RestartCount"] == 0


def test_with_every_replica_stopped_nginx_answers_json_errors(stack: Stack, session: requests.Session) -> None:
    # The last test on the shared stack: it leaves the replicas stopped (`three_replicas` would start them again).
    stack.compose("stop", "--timeout", "10", "api")
    assert stack.api_addresses() == set()
    response = stack.predict(session, headers={"X-Request-ID": "e2e-down-1"})

    assert response.status_code in NGINX_ERROR_CODES, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"] == "e2e-down-1"
    body = response.json()
    assert body["request_id"] == "e2e-down-1"
    assert body["error"]["status"] == response.status_code
    assert body["error"]["code"] == NGINX_ERROR_CODES[response.status_code]
    assert body["error"]["message"]
    assert body["error"]["fields"] == {}
    assert stack.nginx().status == "running"


# compose.yaml's variables -> (NanoCpus, memory limit in bytes, Gunicorn workers) each replica must get.
LIMITS = {
    "0.5-cpu": ({"API_CPUS": "0.5", "API_MEMORY": "256M"}, 500_000_000, 256 * MIB, 1),
    "1.5-cpus": ({"API_CPUS": "1.5", "API_MEMORY": "320M"}, 1_500_000_000, 320 * MIB, 2),
    "web-concurrency-override": ({"API_CPUS": "0.25", "API_MEMORY": "300M", "WEB_CONCURRENCY": "3"}, 250_000_000,
                                 300 * MIB, 3),
}


@pytest.fixture(scope="module")
def limited_stacks(stack_image: str, docker_client: docker.DockerClient) -> Iterator[dict[str, Stack]]:
    """Two api replicas (no Nginx) under each of LIMITS' settings, by name: the stacks start side by side,
    most of their start being the replicas' wait to be healthy."""
    with ExitStack() as running:
        with ThreadPoolExecutor(len(LIMITS)) as pool:
            starts = {name: pool.submit(running.enter_context,
                                        compose_stack(stack_image, docker_client, "api", API_REPLICAS="2", **settings))
                      for name, (settings, *_) in LIMITS.items()}
        yield {name: start.result() for name, start in starts.items()}


@pytest.mark.parametrize(("name", "nano_cpus", "memory_bytes", "workers"),
                         [(name, *expected) for name, (_, *expected) in LIMITS.items()], ids=list(LIMITS))
def test_limits_reach_the_replicas_and_size_their_workers(limited_stacks: dict[str, Stack], name: str, nano_cpus: int,
                                                          memory_bytes: int, workers: int) -> None:
    replicas = limited_stacks[name].containers("api")
    assert len(replicas) == 2
    for replica in replicas:
        host_config = replica.attrs["HostConfig"]
        assert host_config["NanoCpus"] == nano_cpus
        assert host_config["Memory"] == memory_bytes
        assert "PortBindings" not in host_config or not host_config["PortBindings"], "replicas publish no host port"
        assert replica.attrs["Config"]["StopTimeout"] > GUNICORN_GRACEFUL_TIMEOUT_S
        assert replica.attrs["State"]["Health"]["Status"] == "healthy"

        assert gunicorn_workers(replica) == workers
        processes = replica.top()["Processes"]
        command = replica.top()["Titles"].index("CMD")
        assert sum("gunicorn" in p[command] for p in processes) == 1 + workers  # the master and its workers


def test_image_runs_as_non_root_with_oci_labels(stack_image: str, docker_client: docker.DockerClient) -> None:
    config = docker_client.images.get(stack_image).attrs["Config"]

    assert config["User"].split(":")[0] not in ("", "0", "root")
    labels = config["Labels"]
    # The commit checked out when it was built: HEAD or, if work was committed since, an ancestor.
    run(["git", "merge-base", "--is-ancestor", labels["org.opencontainers.image.revision"], "HEAD"])
    assert labels["org.opencontainers.image.version"]
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])
    assert config["Cmd"][:3] == ["gunicorn", "-c", "service/gunicorn.conf.py"]


def registry_reachable() -> bool:
    try:
        return requests.get(f"http://{REGISTRY}/v2/", timeout=3).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def registry(docker_engine: None) -> str:
    """The local registry on 127.0.0.1:5000; skips without it, fails instead when REQUIRE_DOCKER=1."""
    if registry_reachable():
        return REGISTRY
    message = f"no registry answers on {REGISTRY} (start one: docker run -d -p 127.0.0.1:5000:5000 registry:2)"
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {message}")
    pytest.skip(message)


def test_pushed_image_can_be_pulled_back_and_served(registry: str, stack_image: str, docker_client: docker.DockerClient) -> None:
    container: Container | None = None
    try:
        run(["make", "push", f"IMAGE={PUSHED_IMAGE}"], timeout_s=900)
        manifest = requests.get(f"http://{registry}/v2/api-inference/manifests/test", timeout=10,
                                headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        assert manifest.status_code == 200

        docker_client.images.remove(PUSHED_IMAGE)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(PUSHED_IMAGE)
        pulled = docker_client.images.pull(PUSHED_IMAGE)
        assert pulled.attrs["RepoDigests"]

        container = docker_client.containers.run(PUSHED_IMAGE, detach=True, ports={f"{API_PORT}/tcp": ("127.0.0.1", None)},
                                                 nano_cpus=500_000_000, mem_limit="256m")
        container.reload()
        host_port = container.attrs["NetworkSettings"]["Ports"][f"{API_PORT}/tcp"][0]["HostPort"]
        answers: list[requests.Response] = []

        def ready() -> bool:
            try:
                answers.append(requests.get(f"http://127.0.0.1:{host_port}/ready", timeout=2))
            except requests.RequestException:
                return False
            return answers[-1].status_code == 200

        assert wait_until(ready, 60, interval_s=0.5), container.logs().decode()[-2000:]
        assert answers[-1].json()["status"] == "ready"
    finally:
        if container is not None:
            container.remove(force=True)
        subprocess.run(["docker", "image", "rm", PUSHED_IMAGE], capture_output=True, timeout=60)
