"""Keep the load generator and the stack on separate host CPUs.

On a host that runs both, the scheduler puts each process on whichever CPU is
free, and a burst of one delays the other: the generator's timings then carry
the stack's work, and the stack's figures the generator's. ``--pin GEN:STACK``
gives each its own CPUs, as ``taskset -c`` lists (``0:1`` on a 2-CPU host: the
generator on CPU 0, the stack on CPU 1):

- the generator by affinity: this process's CPUs while the load runs
  (``os.sched_setaffinity``), which Locust, started from it, inherits;
- Nginx's and the API replicas' containers by ``docker update --cpuset-cpus``,
  which leaves their CPU quota as it was: a replica limited to 0.5 CPU still gets
  0.5 CPU, now of the stack's CPUs only.

The Docker engine's own processes, dockerd, containerd-shim (which carries the
containers' output to the engine) and docker-proxy (the published port), belong
to the engine, not to a run: they stay wherever the host's scheduler puts them,
on either side.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import docker

from deploy.containers import API_SERVICE, NGINX_SERVICE, service_containers
from stack.compose import pin_containers


class PinningFailed(RuntimeError):
    """The engine did not move a container onto the CPUs asked."""


@dataclass(frozen=True)
class Pinning:
    """The host CPUs of the load generator and of the stack (Nginx and the replicas): disjoint, non-empty."""

    generator: frozenset[int]
    stack: frozenset[int]

    def __post_init__(self) -> None:
        if not self.generator or not self.stack:
            raise ValueError("the generator and the stack each need at least one CPU")
        shared = self.generator & self.stack
        if shared:
            raise ValueError(f"CPU {cpu_list_text(shared)} given to both the generator and the stack")

    @property
    def stack_cpuset(self) -> str:
        """The stack's CPUs as ``docker update --cpuset-cpus`` takes them, e.g. "1" or "1,2"."""
        return cpu_list_text(self.stack)

    def describe(self) -> str:
        """The placement in words, for the reports."""
        return (f"load generator on CPU {cpu_list_text(self.generator)}, Nginx and the replicas on CPU "
                f"{self.stack_cpuset} (dockerd, containerd-shim and docker-proxy unpinned)")


def cpu_list_text(cpus: Iterable[int]) -> str:
    """``{0, 2, 3}`` as "0,2,3"."""
    return ",".join(str(cpu) for cpu in sorted(cpus))


def parse_cpu_list(text: str) -> frozenset[int]:
    """A ``taskset -c`` list ("1", "0,2", "1-3", "0,2-3") as a set of CPU numbers; ValueError when malformed."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{text!r} is not a CPU list such as 0, 0,2 or 1-3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"{part.strip()!r}: a range goes from the lower CPU to the higher")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def parse_pinning(text: str, available: Iterable[int] | None = None) -> Pinning:
    """``GEN:STACK`` (e.g. "0:1") as a Pinning; each CPU must be among ``available`` (default: the CPUs this
    process may run on). Raises ValueError saying what is wrong."""
    generator, colon, stack = text.partition(":")
    if not colon:
        raise ValueError(f"{text!r}: give the generator's CPUs and the stack's as GEN:STACK, e.g. 0:1")
    pinning = Pinning(parse_cpu_list(generator), parse_cpu_list(stack))
    allowed = frozenset(os.sched_getaffinity(0) if available is None else available)
    missing = (pinning.generator | pinning.stack) - allowed
    if missing:
        raise ValueError(f"CPU {cpu_list_text(missing)} is not among this host's usable CPUs "
                         f"({cpu_list_text(allowed)})")
    return pinning


@contextmanager
def generator_on(pinning: Pinning | None) -> Iterator[None]:
    """Run the block with this process (and every process it starts, Locust included) on the generator's
    CPUs, then on the CPUs it had before; with None, as it is."""
    if pinning is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, pinning.generator)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_stack(client: docker.DockerClient, project: str, pinning: Pinning) -> None:
    """Move Compose ``project``'s Nginx and API containers onto the stack's CPUs; PinningFailed when the engine
    refuses (e.g. a CPU it does not have)."""
    ids = [container.id for service in (NGINX_SERVICE, API_SERVICE)
           for container in service_containers(client, project, service)]
    if not pin_containers(ids, pinning.stack_cpuset):
        raise PinningFailed(f"`docker update --cpuset-cpus {pinning.stack_cpuset}` failed for {project}'s containers")
