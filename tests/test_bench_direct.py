"""The order of the side-by-side runs: every name once per round, reversed every other round."""

from __future__ import annotations

from bench.direct import interleaved


def test_rounds_alternate_the_order_so_a_drift_favours_no_server() -> None:
    order = list(interleaved(["predict", "ceiling", "bare"], 3))
    assert order == [(1, "predict"), (1, "ceiling"), (1, "bare"),
                     (2, "bare"), (2, "ceiling"), (2, "predict"),
                     (3, "predict"), (3, "ceiling"), (3, "bare")]


def test_one_round_runs_each_name_once() -> None:
    assert list(interleaved(["nginx", "replica"], 1)) == [(1, "nginx"), (1, "replica")]
