"""Wait until a condition holds: the one polling loop the experiments, the bench, the test launcher and the tests share."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_INTERVAL_S = 0.2


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = POLL_INTERVAL_S) -> bool:
    """Call ``condition`` every ``interval_s`` seconds until it returns True (then True), or until it returned
    False with ``timeout_s`` seconds gone (then False); it is always called at least once. An exception
    ``condition`` raises goes through: raise one to give up early (a process that exited, say)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0:
            return False
        time.sleep(min(interval_s, remaining_s))
    return True
