"""compose.yaml as a Docker Swarm stack on a real engine: `make stack-deploy`, two tasks behind Nginx,
a rolling update that loses no request, `make stack-rm`.

The engine joins a single-node swarm (``docker swarm init --advertise-addr
127.0.0.1``) only when it is in none, and labels the node as made by this test;
a swarm the engine was already in is used as it is. One run of this module at
a time per machine (a lock file), so sessions sharing the engine do not leave
the swarm under each other; at the end the swarm is left only if the label says
a run of this test made it and no service runs in it, which also undoes a run
that was killed before its end. The stack (``api-inference-swarm-<random>``)
and its two image tags are this module's own and removed at the end, even when
a test fails. Every request stream is bounded in requests and in seconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests
from docker.models.services import Service

from bench.server import ROOT, free_port
from deploy.containers import gunicorn_workers
from stack.wait import wait_until
from tests.conftest import SEED_REQUEST

pytestmark = [pytest.mark.docker, pytest.mark.slow]

API_PORT = 8000
# Small asks: the test machine may have 2 cores shared with other work; half a CPU starts a task faster
# than a quarter, and a rolling update waits for each new task to start.
# Two tasks: the smallest stack in which Nginx balances over tasks and a rolling update replaces one while
# another serves; each more task would add its start, and the update's delay, to the update.
REPLICAS = 2
API_CPUS = "0.5"
API_MEMORY = "256M"
MIB = 1024 * 1024
COMMAND_TIMEOUT_S = 300
CONVERGE_TIMEOUT_S = 180.0
# Nginx re-resolves `api` every 5 s (resolver valid=5s in nginx/default.conf.template).
SETTLE_TIMEOUT_S = 30.0
REMOVE_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = (5.0, 45.0)
# The update's request stream: paced so it measures the rollout, not the host.
STREAM_CLIENTS = 4
STREAM_PAUSE_S = 0.05
STREAM_MAX_REQUESTS = 8000
STREAM_MAX_SECONDS = 240.0
# One run of this module at a time on a machine, waiting at most LOCK_TIMEOUT_S for another to end.
LOCK_PATH = Path(tempfile.gettempdir()) / "api-inference-swarm-e2e.lock"
LOCK_TIMEOUT_S = 900.0
# On the node of a swarm this test made; the value says whether docker_gwbridge was made with it.
NODE_LABEL = "api-inference.e2e-swarm"
# Swarm's UpdateStatus.State values that end an update other than by success.
UPDATE_FAILED_STATES = {"paused", "rollback_started", "rollback_paused", "rollback_completed"}


def run(command: list[str], *, env: dict[str, str] | None = None, timeout_s: float = COMMAND_TIMEOUT_S) -> str:
    """Run a command in the repository; raise ``AssertionError`` with its output when it fails."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 1.0) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout_s``."""
    assert wait_until(condition, timeout_s, interval_s=poll_s), f"after {timeout_s:.0f} s: {what}"


def swarm_state(client: docker.DockerClient) -> tuple[str, bool]:
    """(LocalNodeState, whether this node is a manager) as ``docker info`` reports them."""
    swarm = client.info()["Swarm"]
    return swarm["LocalNodeState"], bool(swarm.get("ControlAvailable"))


@pytest.fixture(scope="module")
def docker_client(docker_engine: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@contextmanager
def one_run_at_a_time() -> Iterator[None]:
    """Hold the machine-wide lock of this module; fail after LOCK_TIMEOUT_S of waiting."""
    with LOCK_PATH.open("a") as handle:

        def locked() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not wait_until(locked, LOCK_TIMEOUT_S, interval_s=2):
            pytest.fail(f"another run of the Swarm test held {LOCK_PATH} for {LOCK_TIMEOUT_S:.0f} s")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def leave_test_swarm(client: docker.DockerClient) -> None:
    """Leave the swarm if a run of this test made it (NODE_LABEL) and no service runs in it."""
    state, _ = swarm_state(client)
    if state != "active":
        return
    labels = client.nodes.get(client.info()["Swarm"]["NodeID"]).attrs["Spec"].get("Labels") or {}
    if NODE_LABEL not in labels:
        return
    others = [service.name for service in client.services.list()]
    if others:
        warnings.warn(f"the swarm this test made stays: it runs services it did not create: {others}", stacklevel=1)
        return
    run(["docker", "swarm", "leave", "--force"], timeout_s=60)
    # Swarm made docker_gwbridge for its tasks and leaves it behind.
    if labels[NODE_LABEL] == "with-gwbridge":
        for network in client.networks.list(names=["docker_gwbridge"]):
            network.reload()
            if not network.attrs.get("Containers"):
                network.remove()


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient) -> Iterator[None]:
    """A swarm this engine manages: the one it is in, or a single-node one made here and left afterwards."""
    with one_run_at_a_time():
        state, manager = swarm_state(docker_client)
        if state == "active" and not manager:
            pytest.fail("the Docker engine is a swarm worker: stacks can only be deployed from a manager")
        if state == "inactive":
            made_gwbridge = not docker_client.networks.list(names=["docker_gwbridge"])
            run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], timeout_s=60)
            label = f"{NODE_LABEL}={'with-gwbridge' if made_gwbridge else 'without-gwbridge'}"
            run(["docker", "node", "update", "--label-add", label, docker_client.info()["Swarm"]["NodeID"]], timeout_s=60)
        try:
            yield
        finally:
            leave_test_swarm(docker_client)


@pytest.fixture(scope="module")
def images() -> Iterator[tuple[str, str]]:
    """Two revisions of the api image, built by ``make build``: v2 differs from v1 in its version label only."""
    repository = f"api-inference-swarm-{uuid.uuid4().hex[:8]}"
    v1, v2 = f"{repository}:v1", f"{repository}:v2"
    try:
        run(["make", "build", f"IMAGE={v1}"], timeout_s=900)
        run(["make", "build", f"IMAGE={v2}", "VERSION=swarm-e2e-v2"], timeout_s=900)
        yield v1, v2
    finally:
        subprocess.run(["docker", "image", "rm", v1, v2], capture_output=True, timeout=60)


@dataclass
class SwarmStack:
    """One stack deployed from compose.yaml, and how to reach and inspect it."""

    name: str
    port: int
    client: docker.DockerClient

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def deploy(self, image: str) -> None:
        """``make stack-deploy`` with ``image``; returns once Swarm accepted the stack (tasks start later)."""
        env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "LOG_LEVEL")}
        env.update(IMAGE=image, PORT=str(self.port), API_REPLICAS=str(REPLICAS), API_CPUS=API_CPUS, API_MEMORY=API_MEMORY)
        run(["make", "stack-deploy", f"STACK={self.name}"], env=env)

    def service(self, name: str) -> Service:
        (found,) = self.client.services.list(filters={"name": f"{self.name}_{name}"})
        return found

    def running_tasks(self, name: str) -> list[dict]:
        return [task for task in self.service(name).tasks(filters={"desired-state": "running"})
                if task["Status"]["State"] == "running"]

    def api_addresses(self) -> set[str]:
        """``ip:port`` of every running api task on the stack's network, as Nginx's X-Upstream-Addr names them."""
        network = f"{self.name}_default"
        return {
            f"{attachment['Addresses'][0].split('/')[0]}:{API_PORT}"
            for task in self.running_tasks("api")
            for attachment in task.get("NetworksAttachments", [])
            if attachment["Network"]["Spec"]["Name"] == network
        }

    def converged(self, image: str) -> bool:
        """Every api task running ``image`` and healthy, Nginx running."""
        api = self.running_tasks("api")
        return (len(api) == REPLICAS and len(self.running_tasks("nginx")) == 1
                and all(task["Spec"]["ContainerSpec"]["Image"].split("@")[0] == image for task in api))

    def predict(self, session: requests.Session) -> requests.Response:
        return session.post(f"{self.url}/predict", json=SEED_REQUEST, timeout=REQUEST_TIMEOUT_S)

    def settle(self, session: requests.Session) -> None:
        """Wait until the tasks answering through Nginx are exactly the running api tasks."""
        expected: set[str] = set()
        seen: set[str] = set()

        def answered_by_all() -> bool:
            nonlocal expected, seen
            expected = self.api_addresses()
            try:
                responses = [self.predict(session) for _ in range(3 * REPLICAS)]
            except requests.ConnectionError:
                return False
            seen = {r.headers.get("X-Upstream-Addr", "") for r in responses}
            return seen == expected and all(r.status_code == 200 for r in responses)

        wait_for(answered_by_all, SETTLE_TIMEOUT_S, f"Nginx sends to {sorted(seen)}, the running tasks are {sorted(expected)}", 0.5)

    def remove(self) -> None:
        """``make stack-rm``, then wait until its tasks' containers, network and config are gone."""
        run(["make", "stack-rm", f"STACK={self.name}"])
        label = f"com.docker.stack.namespace={self.name}"
        # sparse: a container that goes between listing and inspecting is no error.
        wait_for(lambda: not self.client.containers.list(all=True, sparse=True, filters={"label": label})
                 and not self.client.networks.list(filters={"label": label})
                 and not self.client.configs.list(filters={"label": label}),
                 REMOVE_TIMEOUT_S, f"stack {self.name} still has containers, networks or configs")


@pytest.fixture(scope="module")
def stack(swarm: None, images: tuple[str, str], docker_client: docker.DockerClient) -> Iterator[SwarmStack]:
    """compose.yaml deployed with the v1 image: REPLICAS api tasks (0.5 CPU, 256 MiB) and Nginx, converged."""
    deployed = SwarmStack(name=f"api-inference-swarm-{uuid.uuid4().hex[:8]}", port=free_port(), client=docker_client)
    try:
        deployed.deploy(images[0])
        wait_for(lambda: deployed.converged(images[0]), CONVERGE_TIMEOUT_S, f"stack {deployed.name} did not converge")
        yield deployed
    finally:
        deployed.remove()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def test_every_task_answers_through_nginx(stack: SwarmStack, session: requests.Session) -> None:
    stack.settle(session)
    responses = [stack.predict(session) for _ in range(30)]

    assert [r.status_code for r in responses] == [200] * 30
    assert all(r.json()["prediction"] == "setosa" for r in responses)
    answered = Counter(r.headers["X-Upstream-Addr"] for r in responses)
    # Nginx reaches each task (endpoint_mode: dnsrr), not one virtual IP.
    assert set(answered) == stack.api_addresses()
    assert len(answered) == REPLICAS
    assert min(answered.values()) >= len(responses) // (2 * REPLICAS)  # each at least half its fair share


def test_replicas_limits_and_update_policy_reach_swarm(stack: SwarmStack) -> None:
    spec = stack.service("api").attrs["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == REPLICAS
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert spec["UpdateConfig"]["Order"] == "start-first"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert spec["RollbackConfig"]["Order"] == "start-first"
    assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"
    for task in stack.running_tasks("api"):
        container = stack.client.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        assert container.attrs["HostConfig"]["NanoCpus"] == int(float(API_CPUS) * 1e9)
        assert container.attrs["HostConfig"]["Memory"] == 256 * MIB
        # Half a CPU rounds up to one Gunicorn worker (as the replica's /ready says).
        assert gunicorn_workers(container) == 1
    # Nginx's port is published on the node itself (mode: host), not through the routing mesh.
    (port,) = stack.service("nginx").attrs["Spec"]["EndpointSpec"]["Ports"]
    assert (port["TargetPort"], port["PublishedPort"], port["PublishMode"]) == (API_PORT, stack.port, "host")


@dataclass
class Outcome:
    """One request of a stream: its status (None: no HTTP answer) and who answered."""

    status: int | None
    upstream: str
    error: str = ""


def stream_until(stack: SwarmStack, action: Callable[[], None], done: Callable[[], bool], trailing_s: float) -> list[Outcome]:
    """Send the seed request from several clients while ``action`` runs, until ``done()`` holds, then ``trailing_s`` more.

    Stops at STREAM_MAX_REQUESTS requests or STREAM_MAX_SECONDS, whichever comes first.
    """
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + STREAM_MAX_SECONDS

    def client() -> None:
        with requests.Session() as http:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    if len(outcomes) >= STREAM_MAX_REQUESTS:
                        return
                try:
                    response = stack.predict(http)
                    outcome = Outcome(response.status_code, response.headers.get("X-Upstream-Addr", ""),
                                      "" if response.ok else response.text[:300])
                except requests.RequestException as exc:
                    outcome = Outcome(None, "", repr(exc))
                with lock:
                    outcomes.append(outcome)
                time.sleep(STREAM_PAUSE_S)

    with ThreadPoolExecutor(STREAM_CLIENTS) as pool:
        futures = [pool.submit(client) for _ in range(STREAM_CLIENTS)]
        try:
            action()
            wait_until(done, max(0.0, deadline - time.monotonic()), interval_s=1)
            stop.wait(trailing_s)
        finally:
            stop.set()
            for future in futures:
                future.result()
    return outcomes


def test_rolling_update_to_a_new_image_loses_no_request(stack: SwarmStack, images: tuple[str, str],
                                                        session: requests.Session) -> None:
    v2 = images[1]
    stack.settle(session)
    old_tasks = {task["ID"] for task in stack.running_tasks("api")}

    def update_state() -> str:
        return (stack.service("api").attrs.get("UpdateStatus") or {}).get("State", "")

    def finished() -> bool:
        return update_state() in {"completed", *UPDATE_FAILED_STATES}

    outcomes = stream_until(stack, lambda: stack.deploy(v2), finished, trailing_s=3.0)

    assert update_state() == "completed", json.dumps(stack.service("api").attrs.get("UpdateStatus"))
    assert len(outcomes) >= 200, "too few requests during the update to show anything"
    assert [o for o in outcomes if o.status != 200] == []
    wait_for(lambda: stack.converged(v2), CONVERGE_TIMEOUT_S, "the tasks are not all on the new image")
    assert old_tasks.isdisjoint(task["ID"] for task in stack.running_tasks("api"))
    # The new tasks took over the traffic through the same Nginx, during the stream already.
    new_addresses = stack.api_addresses()
    assert any(o.upstream in new_addresses for o in outcomes[-REPLICAS * 10:])
    stack.settle(session)
