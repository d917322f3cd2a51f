"""How many CPUs this process may use, and the Gunicorn worker count that follows."""

from __future__ import annotations

import joblib


def granted_cpus() -> int:
    """CPUs granted to this container or process, rounded up, at least 1.

    joblib (loky) reads the cgroup CPU quota, v2 ``/sys/fs/cgroup/cpu.max`` or v1
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, and the CPU affinity mask, and
    takes the smallest of those and the host's core count; a quota of 0.5 CPU
    counts as 1.
    """
    return max(1, joblib.cpu_count(only_physical_cores=False))


def default_workers() -> int:
    """One Gunicorn worker per granted CPU: prediction is CPU-bound, so more
    processes than CPUs add memory (about one model copy each) and context
    switches, not throughput. Threads inside each worker cover network waits."""
    return granted_cpus()
