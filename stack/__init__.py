"""The Compose stack of the project: API replicas behind Nginx (``compose.yaml``), run under a project of one's own.

``stack.compose`` names and checks the project, builds the environment that gives
``compose.yaml`` its limits, and runs ``docker compose`` with a time bound;
``stack.processes`` finds the host's view of a service's processes;
``stack.wait`` polls until a condition holds, and ``stack.http`` asks whether a URL answers 200. The experiments (``deploy``), the
bench and the tests all start and wait for their stacks through it.
"""
