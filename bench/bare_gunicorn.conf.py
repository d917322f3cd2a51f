"""Gunicorn settings for the bare Flask reference (``bench/bare.py``).

The worker settings are the service's own, read from ``service/gunicorn.conf.py``
with the same environment (bind, workers, worker class, threads, keep-alive,
preloading and the fork hooks); the logging is Gunicorn's default (its own
messages on stderr, no access log), so nothing of the service's runs around a request.
"""

import runpy
from pathlib import Path

_SERVICE = runpy.run_path(str(Path(__file__).resolve().parent.parent / "service" / "gunicorn.conf.py"))

wsgi_app = "bench.bare:create_bare_app()"
bind = _SERVICE["bind"]
workers = _SERVICE["workers"]
worker_class = _SERVICE["worker_class"]
threads = _SERVICE["threads"]
keepalive = _SERVICE["keepalive"]
timeout = _SERVICE["timeout"]
graceful_timeout = _SERVICE["graceful_timeout"]
preload_app = _SERVICE["preload_app"]
control_socket_disable = _SERVICE["control_socket_disable"]
worker_tmp_dir = _SERVICE["worker_tmp_dir"]
max_requests = _SERVICE["max_requests"]
max_requests_jitter = _SERVICE["max_requests_jitter"]
on_starting = _SERVICE["on_starting"]
pre_fork = _SERVICE["pre_fork"]
post_fork = _SERVICE["post_fork"]
