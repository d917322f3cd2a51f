"""Whether a URL answers HTTP 200: the readiness probe the experiments and the bench share."""

from __future__ import annotations

import urllib.request

PROBE_TIMEOUT_S = 2.0


def answers(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a GET of ``url`` answers HTTP 200 within ``timeout_s`` seconds; False for any other status
    (urllib raises HTTPError for those), a refused or reset connection, or a timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except OSError:  # URLError and HTTPError are OSErrors, as are socket timeouts and resets
        return False
