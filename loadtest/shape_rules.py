"""What a load shape's timing must keep, without Locust.

:mod:`loadtest.shapes` builds its shapes by these rules, and ``deploy``'s matrix
check applies them before a run starts; this module imports nothing of Locust,
whose import would patch the importing process with gevent (locust/__init__.py).
"""

from __future__ import annotations


def check_spike_fits(spike_at_s: float, spike_duration_s: float, duration_s: float) -> None:
    """Raise ``ValueError`` when a spike from ``spike_at_s`` lasting ``spike_duration_s`` (s) ends after
    the run time ``duration_s`` (s): the shape would stop the test before the spike is over."""
    if spike_at_s + spike_duration_s > duration_s:
        raise ValueError(
            f"spike shape: the spike ends at {spike_at_s + spike_duration_s:g} s, "
            f"after the run time of {duration_s:g} s"
        )
