"""Wait until a condition holds: the one polling loop the bench, the test launcher and the tests share."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_INTERVAL_S = 0.2


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = POLL_INTERVAL_S) -> bool:
    """Call ``condition`` every ``interval_s`` seconds until it returns True (then True) or ``timeout_s``
    seconds have passed (then False, after one last call). An exception ``condition`` raises goes
    through: raise one to give up early (a process that exited, say)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)
    return True
