"""Size a deployment for a target rate from measured capacities, and weigh replication.

- **Pick**: the cheapest configuration (total CPU, then total memory:
  ``deploy.recommend.cost_key``) whose capacity is at least the target plus the
  headroom (default 20%: ``deploy.matrix.Goal``). A bounded capacity
  (``≥ N``) counts as N: the configuration holds at least that.
- **Extrapolation**, when no measured configuration reaches it: replicas of the
  most cost-efficient measured replica size (highest capacity per CPU among the
  one-replica configurations whose capacity the configuration itself set), as
  many as the target needs at the measured scaling efficiency, marked as an
  extrapolation. Without a measured replicated configuration of that size the
  efficiency is the mean over every measured one, else assumed 1 and said so.
- **Scaling efficiency** of N × c: its capacity over N × the capacity of 1 × c
  (1.0: every replica adds a whole 1 × c; less: Nginx, the host or the replicas'
  shared CPUs take a share).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploy.recommend import cost_key
from deploy.results import ConfigurationResult


@dataclass(frozen=True)
class Scaling:
    """A replicated configuration against N times its one-replica counterpart (same cpus and memory per replica)."""

    single: ConfigurationResult
    replicated: ConfigurationResult

    @property
    def efficiency(self) -> float:
        """capacity(N × c) / (N × capacity(1 × c))."""
        return self.replicated.capacity_rps / (self.replicated.replicas * self.single.capacity_rps)

    @property
    def bounded(self) -> bool:
        """Whether either capacity is a lower bound (the bench, not the configuration, set it)."""
        return self.single.capacity_bound is not None or self.replicated.capacity_bound is not None


@dataclass(frozen=True)
class Extrapolation:
    """N replicas of a measured one-replica configuration, at the measured (or assumed) scaling efficiency."""

    replica: ConfigurationResult  # the one-replica configuration whose size is repeated
    replicas: int
    efficiency: float
    efficiency_measured: bool

    @property
    def estimated_rps(self) -> float:
        """replicas × the replica's capacity × efficiency, req/s."""
        return self.replicas * self.replica.capacity_rps * self.efficiency

    @property
    def total_cpus(self) -> float:
        return round(self.replicas * self.replica.cpus, 6)


@dataclass(frozen=True)
class Sizing:
    """What holds ``target_rps`` with ``headroom``: a measured pick, or an extrapolation, or neither."""

    target_rps: float
    headroom: float
    pick: ConfigurationResult | None
    extrapolation: Extrapolation | None

    @property
    def required_rps(self) -> float:
        """The capacity needed: target × (1 + headroom)."""
        return self.target_rps * (1 + self.headroom)

    @property
    def replicas(self) -> int | None:
        """Replicas to run: the pick's, or the extrapolation's; None when neither exists."""
        if self.pick is not None:
            return self.pick.replicas
        return self.extrapolation.replicas if self.extrapolation else None


def scalings(results: list[ConfigurationResult]) -> list[Scaling]:
    """Every replicated configuration with a capacity next to its one-replica counterpart (same cpus, memory
    and workers), in matrix order."""
    singles = {(r.cpus, r.memory_limit_bytes, r.workers): r for r in results
               if r.replicas == 1 and r.capacity_rps}
    pairs = []
    for result in results:
        single = singles.get((result.cpus, result.memory_limit_bytes, result.workers))
        if result.replicas > 1 and result.capacity_rps and single is not None:
            pairs.append(Scaling(single=single, replicated=result))
    return pairs


def size_for(results: list[ConfigurationResult], target_rps: float, headroom: float) -> Sizing:
    """The cheapest measured configuration holding ``target_rps`` × (1 + ``headroom``), else an extrapolation."""
    required = target_rps * (1 + headroom)
    holding = [r for r in results if r.capacity_rps is not None and r.capacity_rps >= required]
    if holding:
        return Sizing(target_rps, headroom, min(holding, key=cost_key), None)
    replicas_of = [r for r in results if r.replicas == 1 and r.capacity_rps and r.capacity_bound is None]
    if not replicas_of:
        return Sizing(target_rps, headroom, None, None)
    replica = max(replicas_of, key=lambda r: (r.capacity_per_cpu, -r.total_memory_bytes))
    measured = [s for s in scalings(results) if not s.bounded]
    same_size = [s.efficiency for s in measured if s.single.index == replica.index]
    every = [s.efficiency for s in measured]
    efficiencies = same_size or every
    efficiency = min(1.0, sum(efficiencies) / len(efficiencies)) if efficiencies else 1.0
    count = max(2, math.ceil(required / (replica.capacity_rps * efficiency)))
    return Sizing(target_rps, headroom, None, Extrapolation(replica, count, efficiency, bool(efficiencies)))


def describe_sizing(sizing: Sizing) -> list[str]:
    """The sizing as Markdown lines."""
    target = (f"{sizing.target_rps:g} req/s with {sizing.headroom:.0%} headroom "
              f"(a capacity of {sizing.required_rps:g} req/s)")
    if sizing.pick is not None:
        pick = sizing.pick
        bound = f", {pick.capacity_bound}-bound: at least that" if pick.capacity_bound else ""
        return [f"**For {target}: {pick.label}**, the cheapest configuration that holds it "
                f"({pick.total_cpus:g} CPU in total; capacity {pick.capacity_rps:g} req/s{bound})."]
    if sizing.extrapolation is None:
        return [f"**No measured configuration holds {target}**, and none has a capacity of its own to extrapolate from."]
    extra = sizing.extrapolation
    how = ("the measured scaling efficiency" if extra.efficiency_measured
           else "an assumed scaling efficiency of 1 (no replicated configuration of this size was measured)")
    return [f"**No measured configuration holds {target}.** Extrapolated (not measured): "
            f"{extra.replicas} × {extra.replica.cpus:g} CPU / {extra.replica.memory} "
            f"({extra.total_cpus:g} CPU in total), from {extra.replica.label}'s {extra.replica.capacity_rps:g} req/s "
            f"and {how}, {extra.efficiency:.0%}: about {extra.estimated_rps:.0f} req/s. Measure it before relying on it."]
