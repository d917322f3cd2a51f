"""Load testing for the inference service with Locust.

- ``locustfile.py``: the simulated clients (run it with ``locust``; ``locust.conf`` holds the defaults).
- ``options.py``: the knobs, registered as Locust's own command-line/env/config options.
- ``model.py``: the served model's features, task and sample rows, read from its metadata.
- ``payloads.py``: valid rows drawn around the model's sample, deliberately invalid requests,
  and how answers are judged; ``open_inference.py``: the same as Open Inference Protocol requests.
- ``shapes.py``: constant, step and spike load shapes, chosen by ``--shape``.
- ``shape_rules.py``: what a shape's timing must keep, without Locust (for checks before a run).
- ``slo.py``: the service level objective and its verdict (no Locust import: other
  packages read reports with it).
- ``selfwatch.py``: whether the load generator itself ran out of CPU.
- ``results.py``: at the end of a run, the verdict file and CSV files that agree with it.
- ``summary.py``: ``python -m loadtest.summary PREFIX`` prints a finished run's summary.
- ``runner.py``: the headless command line, a run bounded in time, and reading what Locust wrote
  (live history, failures, the verdict file); the experiments and the bench run Locust through it.

Nothing here imports Locust at package import time: importing Locust monkey-patches
the standard library with gevent.
"""
