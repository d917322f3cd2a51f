"""deploy/k8s: every kustomization renders with kustomize and is valid for the Kubernetes API;
the fields that keep requests alive through rollouts and keep the pods locked down hold in each."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest

from tests.kustomize import K8S_DIR, KUBERNETES_VERSIONS, ROOT, by_kind, render, schema_errors

KUSTOMIZATIONS = [K8S_DIR / "base", *sorted(path.parent for path in K8S_DIR.glob("overlays/*/kustomization.yaml"))]
IDS = [str(path.relative_to(K8S_DIR)) for path in KUSTOMIZATIONS]
# Gunicorn's default graceful timeout (service/gunicorn.conf.py), when the manifest does not set one.
GUNICORN_GRACEFUL_TIMEOUT_S = 8


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=IDS)
def rendered(request: pytest.FixtureRequest) -> dict[str, dict]:
    return by_kind(render(request.param))


def api_container(resources: dict[str, dict]) -> dict:
    (container,) = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def env(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("500m", "2", "1.5") in cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def test_the_expected_overlays_exist() -> None:
    assert {"base", "overlays/small", "overlays/reference"} <= set(IDS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_is_valid_for_the_kubernetes_api(rendered: dict[str, dict], version: str) -> None:
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= rendered.keys()
    errors = [error for resource in rendered.values() for error in schema_errors(resource, version)]
    assert errors == []


def test_the_schema_check_rejects_a_misspelt_field(rendered: dict[str, dict]) -> None:
    deployment = copy.deepcopy(rendered["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readynessProbe"] = container.pop("readinessProbe")
    assert schema_errors(deployment, KUBERNETES_VERSIONS[-1]) != []


def test_probes_ask_readiness_of_ready_and_liveness_of_health(rendered: dict[str, dict]) -> None:
    container = api_container(rendered)
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert port_names == {"http": 8000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    # Liveness waits for the startup probe, so a slow model load is not killed.
    assert container["startupProbe"]["httpGet"]["path"] == "/health"


def test_requests_equal_limits_and_workers_follow_the_cpu_limit(rendered: dict[str, dict]) -> None:
    container = api_container(rendered)
    resources = container["resources"]
    assert set(resources["limits"]) == {"cpu", "memory"}
    assert resources["requests"] == resources["limits"]
    cpu_limit = cpu_cores(str(resources["limits"]["cpu"]))
    assert int(env(container)["WEB_CONCURRENCY"]) == math.ceil(cpu_limit)


def test_in_flight_requests_finish_before_the_kill(rendered: dict[str, dict]) -> None:
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    container = api_container(rendered)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    # The image has Python and no guarantee of a `sleep` binary.
    assert command[:2] == ["python", "-c"]
    pre_stop_s = float(re.fullmatch(r"import time; time\.sleep\(([\d.]+)\)", command[2]).group(1))
    graceful_s = int(env(container).get("GUNICORN_GRACEFUL_TIMEOUT", GUNICORN_GRACEFUL_TIMEOUT_S))
    assert pre_stop_s >= 3
    assert pod["terminationGracePeriodSeconds"] > pre_stop_s + graceful_s
    strategy = rendered["Deployment"]["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_pods_run_as_the_images_user_on_a_read_only_root(rendered: dict[str, dict]) -> None:
    image_user = re.search(r"^USER (\d+)(?::(\d+))?$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    pod_security = rendered["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == int(image_user.group(1))
    container = api_container(rendered)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_every_writable_path_is_an_empty_dir(rendered: dict[str, dict]) -> None:
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in api_container(rendered)["volumeMounts"]}
    assert "emptyDir" in mounts["/tmp"]
    # Gunicorn's worker heartbeat files (worker_tmp_dir) need a memory-backed /dev/shm.
    assert mounts["/dev/shm"]["emptyDir"]["medium"] == "Memory"
    metrics_dir = Path(env(api_container(rendered))["PROMETHEUS_MULTIPROC_DIR"])
    assert any(metrics_dir.is_relative_to(path) and "emptyDir" in volume for path, volume in mounts.items())


def test_the_autoscaler_owns_the_replicas_and_scales_on_cpu(rendered: dict[str, dict]) -> None:
    deployment, hpa = rendered["Deployment"], rendered["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"],
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 90
    # Two replicas at least, so the disruption budget below always leaves one serving.
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # A replica count in the Deployment would fight the autoscaler on every apply.
    assert "replicas" not in deployment["spec"]


def test_service_and_disruption_budget_select_the_pods(rendered: dict[str, dict]) -> None:
    pod_labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service, budget = rendered["Service"], rendered["PodDisruptionBudget"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["spec"]["maxUnavailable"] == 1
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_the_reference_overlay_routes_an_ingress_to_the_service() -> None:
    rendered = by_kind(render(K8S_DIR / "overlays" / "reference"))
    (rule,) = rendered["Ingress"]["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/"
    assert path["backend"]["service"] == {
        "name": rendered["Service"]["metadata"]["name"], "port": {"name": rendered["Service"]["spec"]["ports"][0]["name"]},
    }
