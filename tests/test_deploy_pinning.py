"""``--pin GEN:STACK``: the CPU lists parsed and checked, the plan of who runs where, and what is asked of the engine."""

from __future__ import annotations

import os
import re
import subprocess
from types import SimpleNamespace

import pytest

from deploy import pinning
from deploy.__main__ import build_parser
from deploy.overload import OverloadPlan, OverloadResult
from deploy.pinning import (Pinning, PinningFailed, generator_on, parse_cpu_list, parse_pinning,
                            pin_stack)
from deploy.rundir import Host, Plan
from stack.compose import pin_containers

FOUR_CPUS = range(4)


@pytest.mark.parametrize(("text", "cpus"), [("1", {1}), ("0,2", {0, 2}), ("1-3", {1, 2, 3}), ("0, 2-3", {0, 2, 3})])
def test_a_cpu_list_is_read_as_taskset_writes_it(text: str, cpus: set[int]) -> None:
    assert parse_cpu_list(text) == frozenset(cpus)


@pytest.mark.parametrize("text", ["", "a", "1-", "-1", "3-1", "1,,2", "1.5"])
def test_a_malformed_cpu_list_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpu_list(text)


def test_gen_colon_stack_gives_the_generator_and_the_stack_their_cpus() -> None:
    plan = parse_pinning("0:1-3", FOUR_CPUS)
    assert plan == Pinning(generator=frozenset({0}), stack=frozenset({1, 2, 3}))
    assert plan.stack_cpuset == "1,2,3"
    assert plan.describe().startswith("load generator on CPU 0, Nginx and the replicas on CPU 1,2,3")
    assert "dockerd, containerd-shim and docker-proxy unpinned" in plan.describe()


@pytest.mark.parametrize(("text", "said"), [
    ("0", "GEN:STACK"),
    ("0:0", "CPU 0 given to both"),
    ("0-1:1-2", "CPU 1 given to both"),
    ("0:4", "CPU 4 is not among this host's usable CPUs (0,1,2,3)"),
    (":1", "not a CPU list"),
])
def test_a_pinning_that_cannot_be_done_says_why(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_pinning(text, FOUR_CPUS)


def test_the_cpus_checked_are_those_this_process_may_use_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {2, 3})
    assert parse_pinning("2:3") == Pinning(frozenset({2}), frozenset({3}))
    with pytest.raises(ValueError, match="CPU 0 is not among"):
        parse_pinning("0:3")


def test_the_commands_take_pin_and_leave_it_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0, 1})
    parser = build_parser()
    assert parser.parse_args(["overload", "--capacity-rps", "100"]).pin is None
    assert parser.parse_args(["capacity"]).pin is None
    expected = Pinning(frozenset({0}), frozenset({1}))
    assert parser.parse_args(["overload", "--capacity-rps", "100", "--pin", "0:1"]).pin == expected
    assert parser.parse_args(["capacity", "--pin", "0:1"]).pin == expected


def test_a_bad_pin_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0, 1})
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["overload", "--capacity-rps", "100", "--pin", "1:1"])
    assert exit_info.value.code == 2
    assert "CPU 1 given to both" in capsys.readouterr().err


def test_the_generator_runs_on_its_cpus_within_the_block_and_as_before_after_it() -> None:
    before = os.sched_getaffinity(0)
    first = min(before)
    with generator_on(Pinning(frozenset({first}), frozenset({first + 1}))):
        assert os.sched_getaffinity(0) == {first}
    assert os.sched_getaffinity(0) == before
    with generator_on(None):
        assert os.sched_getaffinity(0) == before


def test_the_stacks_containers_are_moved_with_docker_update_cpuset_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    monkeypatch.setattr(subprocess, "run",
                        lambda command, **kwargs: asked.append(command) or subprocess.CompletedProcess(command, 0))
    containers = {"nginx": [SimpleNamespace(id="n1")], "api": [SimpleNamespace(id="a1"), SimpleNamespace(id="a2")]}
    monkeypatch.setattr(pinning, "service_containers", lambda client, project, service: containers[service])
    pin_stack(client=None, project="p", pinning=Pinning(frozenset({0}), frozenset({1})))
    assert asked == [["docker", "update", "--cpuset-cpus", "1", "n1", "a1", "a2"]]


def test_no_container_or_a_refusal_of_the_engine_is_not_a_pinning(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    monkeypatch.setattr(subprocess, "run",
                        lambda command, **kwargs: asked.append(command) or subprocess.CompletedProcess(command, 1))
    assert pin_containers([], "1") is False
    assert asked == []
    assert pin_containers(["a1"], "1") is False
    monkeypatch.setattr(pinning, "service_containers", lambda client, project, service: [SimpleNamespace(id="a1")])
    with pytest.raises(PinningFailed, match="--cpuset-cpus 1"):
        pin_stack(client=None, project="p", pinning=Pinning(frozenset({0}), frozenset({1})))


def test_a_runs_plan_keeps_its_cpu_lists_and_placement_and_an_older_plan_reads_as_unpinned() -> None:
    host = Host(cpus=2, memory_bytes=1, docker_version="20.10", cgroup_version="1", os="linux")
    pinned = Pinning(frozenset({0}), frozenset({2, 1}))
    plan = Plan(matrix="m.toml", selected=(1,), started_at="2026-12-02T12:00:00+00:00", host=host, mode="capacity",
                **Plan.pinning_fields(pinned))
    assert (plan.generator_cpus, plan.stack_cpus) == ((0,), (1, 2))
    assert plan.placement == pinned.describe()
    data = {"matrix": "m.toml", "selected": [1], "started_at": plan.started_at, "host": vars(host), "mode": "capacity",
            "placement": plan.placement, "generator_cpus": [0], "stack_cpus": [1, 2]}
    assert Plan.from_dict(data) == plan
    assert plan.same_pinning(Pinning(frozenset({0}), frozenset({1, 2})))
    assert not plan.same_pinning(Pinning(frozenset({0}), frozenset({1})))
    assert not plan.same_pinning(None)
    for key in ("placement", "generator_cpus", "stack_cpus"):
        del data[key]
    unpinned = Plan.from_dict(data)
    assert (unpinned.placement, unpinned.generator_cpus, unpinned.stack_cpus) == ("", (), ())
    assert unpinned.same_pinning(None) and not unpinned.pinning_unrecorded


def test_a_plan_that_kept_its_pin_only_in_words_is_known_as_such() -> None:
    host = Host(cpus=2, memory_bytes=1, docker_version="20.10", cgroup_version="1", os="linux")
    data = {"matrix": "m.toml", "selected": [1], "started_at": "2026-12-02T12:00:00+00:00", "host": vars(host),
            "mode": "capacity", "placement": Pinning(frozenset({0}), frozenset({1})).describe()}
    assert Plan.from_dict(data).pinning_unrecorded


def test_an_overload_report_says_where_the_generator_and_the_stack_ran() -> None:
    placement = Pinning(frozenset({0}), frozenset({1})).describe()
    result = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=100), steps=[], checks=[],
                            generator_saturated=False, placement=placement)
    assert f"; {placement}." in result.markdown("python -m deploy overload --pin 0:1")
    assert result.to_json()["placement"] == placement
    unpinned = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=100), [], [], False)
    assert "CPU" not in unpinned.markdown("python -m deploy overload").split("\n")[2]
