"""Scale experiments: run the stack under a matrix of replicas x CPU x memory, judge, report, recommend.

``python -m deploy run deploy/matrices/reference.toml`` (or ``make experiments``);
the modules, in the order data flows: matrix (read the TOML), stack and
readiness (Compose up/down), loadgen (Locust), sampling and containers (Docker
Engine API), verdict and outcome (judge a configuration), results and rundir
(storage), runner (the loop over configurations), recommend, report and plots;
k8s_overlay writes a recommendation as a Kubernetes overlay.
"""
