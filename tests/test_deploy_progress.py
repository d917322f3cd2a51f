"""The experiments' progress on the terminal: the live figures of a Locust run, as a status line shows them."""

from __future__ import annotations

import pytest

from deploy.progress import WAITING, live_figures
from loadtest.runner import LiveStats

RUNNING = LiveStats(users=5, requests_per_s=18.0, requests=50, failures=1, p95_ms=11.0)


@pytest.mark.parametrize(("live", "users", "line"), [
    (None, True, WAITING),
    (RUNNING, True, "5 users, 18 req/s, p95 11 ms, 1 failed"),
    (RUNNING, False, "18 req/s, p95 11 ms, 1 failed"),
    # Locust's first seconds: answers counted, no rate or p95 formed yet.
    (LiveStats(users=5, requests_per_s=None, requests=21, failures=0, p95_ms=None), True,
     "5 users, 21 requests so far, 0 failed"),
    (LiveStats(users=5, requests_per_s=None, requests=36, failures=0, p95_ms=10.0), False,
     "36 requests so far, p95 10 ms, 0 failed"),
    (LiveStats(users=3, requests_per_s=None, requests=0, failures=0, p95_ms=None), True,
     "3 users, 0 requests so far, 0 failed"),
])
def test_the_live_figures_show_only_what_locust_has_measured(live, users, line) -> None:
    assert live_figures(live, users=users) == line

