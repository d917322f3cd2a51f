"""Pick the configuration to deploy from a run's results, and weigh one big replica against several small ones.

- The recommendation is the cheapest configuration whose verdict is pass:
  least total CPU (replicas x cpus), then least total memory.
- Each replicated configuration is compared with the single-instance
  configuration whose total CPU is nearest (equal when the matrix has one),
  so "3 replicas at 1.0 CPU against 1 replica at 2.0 CPU" is answered with the
  measured figures of both.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.results import COMPLETED, MARGINAL, PASS, ConfigurationResult


@dataclass(frozen=True)
class Comparison:
    """A replicated configuration next to the single instance nearest to it in total CPU."""

    single: ConfigurationResult
    replicated: ConfigurationResult

    @property
    def equal_cpus(self) -> bool:
        """True when both may use the same total CPU."""
        return abs(self.single.total_cpus - self.replicated.total_cpus) < 1e-9


@dataclass(frozen=True)
class Recommendation:
    """What to deploy and why, from one run's results.

    ``cheapest_pass`` is None when no configuration passed; ``cheapest_marginal``
    is the cheapest marginal configuration that costs less than ``cheapest_pass``
    (or any, when nothing passed), None otherwise.
    """

    cheapest_pass: ConfigurationResult | None
    cheapest_marginal: ConfigurationResult | None
    comparisons: tuple[Comparison, ...]
    host_cpus: int | None  # CPUs of the machine the run used, when known


def cost_key(result: ConfigurationResult) -> tuple[float, int, int]:
    """Sort key from cheapest to dearest: total CPU, then total memory, then matrix order."""
    return (result.total_cpus, result.total_memory_bytes, result.index)


def recommend(results: list[ConfigurationResult], host_cpus: int | None = None) -> Recommendation:
    """The cheapest passing configuration and the single-against-replicated comparisons of ``results``."""
    ranked = sorted(results, key=cost_key)
    cheapest_pass = next((result for result in ranked if result.verdict == PASS), None)
    cheaper_marginal = [
        result for result in ranked
        if result.verdict == MARGINAL and (cheapest_pass is None or cost_key(result) < cost_key(cheapest_pass))
    ]
    return Recommendation(
        cheapest_pass=cheapest_pass,
        cheapest_marginal=cheaper_marginal[0] if cheaper_marginal else None,
        comparisons=_comparisons(results),
        host_cpus=host_cpus,
    )


def _comparisons(results: list[ConfigurationResult]) -> tuple[Comparison, ...]:
    singles = [result for result in results if result.replicas == 1]
    if not singles:
        return ()
    pairs = []
    for replicated in (result for result in results if result.replicas > 1):
        # Nearest total CPU; on a tie, the larger single instance (the harder comparison for replication).
        single = min(singles, key=lambda s: (abs(s.total_cpus - replicated.total_cpus), -s.total_cpus, s.index))
        pairs.append(Comparison(single=single, replicated=replicated))
    return tuple(pairs)


def describe(recommendation: Recommendation) -> list[str]:
    """The recommendation as Markdown lines: the pick, then one bullet per comparison."""
    lines = []
    best = recommendation.cheapest_pass
    if best is None:
        lines.append("**No configuration passed the SLO.**")
    else:
        lines.append(
            f"**Recommended: {best.label}** — the cheapest configuration that passes "
            f"({best.total_cpus:g} CPU, {format_bytes(best.total_memory_bytes)} in total): {_figures(best)}."
        )
    marginal = recommendation.cheapest_marginal
    if marginal is not None:
        lines.append(
            f"Cheaper but marginal: {marginal.label} ({marginal.total_cpus:g} CPU, "
            f"{format_bytes(marginal.total_memory_bytes)}): {marginal.reason}."
        )
    if recommendation.comparisons:
        lines.append("")
        lines.append("Single instance against replicated (nearest total CPU):")
        lines.append("")
        for comparison in recommendation.comparisons:
            lines.append(f"- {_compare(comparison, recommendation.host_cpus)}")
        if not any(comparison.equal_cpus for comparison in recommendation.comparisons):
            lines.append("")
            lines.append("No replicated configuration has exactly the total CPU of a single-instance one; "
                         "each is compared with the nearest.")
    return lines


def _figures(result: ConfigurationResult) -> str:
    if result.status != COMPLETED or not result.requests:
        return result.reason
    return (f"{result.requests_per_s:.0f} req/s, p95 {result.p95_ms:.0f} ms, "
            f"p99 {result.p99_ms:.0f} ms, {result.failure_ratio:.2%} failed")


def _compare(comparison: Comparison, host_cpus: int | None) -> str:
    single, replicated = comparison.single, comparison.replicated
    relation = "=" if comparison.equal_cpus else ("<" if replicated.total_cpus < single.total_cpus else ">")
    text = (
        f"{replicated.label} ({replicated.total_cpus:g} CPU) {relation} {single.label} "
        f"({single.total_cpus:g} CPU): {replicated.mark} {_figures(replicated)} against {single.mark} {_figures(single)}"
    )
    if replicated.requests and single.requests and single.requests_per_s > 0:
        text += f"; throughput {replicated.requests_per_s / single.requests_per_s:.2f}×"
        if single.p95_ms and replicated.p95_ms is not None:
            text += f", p95 {replicated.p95_ms / single.p95_ms:.2f}×"
    oversized = [r for r in (replicated, single) if host_cpus and r.total_cpus > host_cpus]
    for result in oversized:
        text += (f". {result.label} asks for {result.total_cpus:g} CPU on a {host_cpus}-CPU host: "
                 "its limits cannot all be granted at once")
    return text


def format_bytes(size: int) -> str:
    """A byte count in Docker-style binary units: "750M", "3000M", "2G", "23.5G" (whole G, else M under 10G)."""
    mib = size / 1024**2
    if mib >= 1024 and mib % 1024 == 0:
        return f"{mib / 1024:.0f}G"
    if mib >= 10 * 1024:
        return f"{mib / 1024:.1f}G"
    return f"{mib:.0f}M" if mib == int(mib) else f"{mib:.1f}M"
