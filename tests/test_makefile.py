"""Makefile targets refuse variables they cannot use before they run anything."""

from __future__ import annotations

import subprocess

import pytest

from bench.server import ROOT


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("replicas", ["", "abc", "-1", "1;echo INJECTED", "2 3"])
def test_scale_wants_a_whole_number(replicas: str) -> None:
    result = make("scale", f"N={replicas}")

    assert result.returncode == 2
    assert f"a whole number (got '{replicas}')" in result.stderr
    assert "INJECTED" not in result.stdout


@pytest.mark.parametrize(("variable", "words"), [
    ("HOST=ftp://example", "HOST must be an http:// or https:// URL to load-test (got 'ftp://example')"),
    ("PORT=abc", "PORT must be a port number (got 'abc')"),
])
def test_loadtest_refuses_a_target_it_cannot_reach_and_leaves_no_report_directory(variable: str, words: str) -> None:
    reports = ROOT / "reports" / "loadtest"
    before = set(reports.iterdir()) if reports.exists() else set()

    result = make("loadtest", variable)

    assert result.returncode == 2
    assert words in result.stderr
    assert (set(reports.iterdir()) if reports.exists() else set()) == before


def test_loadtest_with_an_option_locust_refuses_leaves_no_report_directory() -> None:
    reports = ROOT / "reports" / "loadtest"
    before = set(reports.iterdir()) if reports.exists() else set()

    result = make("loadtest", "USERS=abc")

    assert result.returncode == 2
    assert "--users: invalid int value: 'abc'" in result.stderr
    assert "no complete load test results" not in result.stdout + result.stderr
    assert (set(reports.iterdir()) if reports.exists() else set()) == before
