"""The host's view of the processes a Compose service runs (the engine runs them on this kernel).

Where the engine runs them in a VM (Docker Desktop) they are not visible here,
and the answer is empty.
"""

from __future__ import annotations

import psutil

from stack.compose import Compose


def container_processes(compose: Compose, service: str) -> list[psutil.Process]:
    """Every process in ``service``'s containers (each container's first process and its descendants),
    or [] when none runs or they are not visible from here."""
    processes: list[psutil.Process] = []
    try:
        for pid in compose.container_pids(service):
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    return processes
