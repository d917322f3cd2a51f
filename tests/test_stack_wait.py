"""The one polling loop: it returns as soon as its condition holds, and says so when it never did."""

from __future__ import annotations

import pytest

from stack.wait import wait_until


def test_it_returns_true_once_the_condition_holds_without_calling_it_again() -> None:
    answers = iter([False, False, True])
    calls = []

    def condition() -> bool:
        calls.append(1)
        return next(answers)

    assert wait_until(condition, timeout_s=60, interval_s=0)
    assert len(calls) == 3


def test_it_returns_false_when_the_time_is_up_having_looked_at_least_once() -> None:
    calls = []
    assert not wait_until(lambda: calls.append(1) or False, timeout_s=0)
    assert len(calls) == 1


def test_an_exception_in_the_condition_ends_the_wait() -> None:
    def exited() -> bool:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, timeout_s=60)
