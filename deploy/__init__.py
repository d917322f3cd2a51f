"""Scale experiments: run the stack under a matrix of replicas x CPU x memory, judge, report, recommend.

``python -m deploy capacity deploy/matrices/reference.toml`` (or ``make
experiments``) searches each configuration's capacity; ``python -m deploy run``
asks whether each holds the matrix's fixed load. The modules, in the order data
flows: matrix (read the TOML), stack and readiness (Compose up/down), loadgen
(Locust, a fixed or an open-model load), sampling and containers (Docker Engine
API), verdict and outcome (judge a fixed-load run), probe, search and capacity
(judge a probe, choose the next rate, conclude a capacity), results and rundir
(storage), runner (the loop over configurations) with capacity_run (a search on
a ready stack), recommend and sizing, report, capacity_report and plots;
k8s_overlay writes a recommendation as a Kubernetes overlay; pinning (``--pin``) keeps the load
generator and the stack on separate host CPUs.
"""
