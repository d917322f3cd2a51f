"""Gunicorn settings for the inference service: ``gunicorn -c service/gunicorn.conf.py``.

Every value comes from an environment variable with the default the README
documents. Gunicorn's settings reference: https://docs.gunicorn.org/en/stable/settings.html
"""

import gc
import os
import tempfile

# One BLAS/OpenMP thread per worker, set before numpy is imported by the
# preloaded app, so N workers never run N x cores threads against the CPU quota.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# prometheus_client's multiprocess mode must know its directory before it is
# imported; samples an earlier run left in a reused directory are cleared here,
# before the preloaded app writes its first ones. A missing directory is created:
# the image's (Dockerfile) lives on /dev/shm, a tmpfs that starts empty. One it
# cannot write to (/proc/1) stops Gunicorn here, not at the app's first sample.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="api-inference-metrics-"))
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _metrics_dir_problem(directory: str) -> str | None:
    """Why ``directory`` cannot hold this run's samples, as the end of a sentence about it; None when it can.

    Creates it when missing, removes the ``*.db`` files an earlier run left, then writes a file to it.
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError:
        return "is not a directory"
    except OSError as exc:
        return f"cannot be created: {exc.strerror}"
    try:
        names = os.listdir(directory)
    except OSError as exc:
        return f"cannot be listed: {exc.strerror}"
    for name in names:
        if name.endswith(".db"):
            try:
                os.remove(os.path.join(directory, name))
            except OSError as exc:
                return f"holds {name!r}, which cannot be removed as an earlier run's samples: {exc.strerror}"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return f"is not a writable directory: {exc.strerror}"
    return None


if (_problem := _metrics_dir_problem(_metrics_dir)) is not None:
    # SystemExit passes through Gunicorn's config loader, which prints a
    # traceback for any other exception.
    raise SystemExit(f"Error: PROMETHEUS_MULTIPROC_DIR={_metrics_dir!r} {_problem}")

from gunicorn.util import load_class  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from service.config import GUNICORN_SETTINGS, ConfigError, env_int, from_env  # noqa: E402
from service.cpu import default_workers  # noqa: E402
from service.logs import gunicorn_logconfig  # noqa: E402
from service.protocol_errors import answer_in_path_shape, install as install_json_protocol_errors  # noqa: E402


def _setting(variable: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """An integer setting from the environment; a bad value stops Gunicorn with one line naming it."""
    try:
        return env_int(variable, default, minimum=minimum, maximum=maximum)
    except ConfigError as exc:
        # SystemExit passes through Gunicorn's config loader, which prints a
        # traceback for any other exception.
        raise SystemExit(f"Error: {exc}") from None


def _worker_class(name: str) -> str:
    """``name`` if Gunicorn can load it as a worker class; else stop with one line naming it."""
    try:
        load_class(name, default="gthread", section="gunicorn.workers")
    except RuntimeError:
        raise SystemExit(f"Error: GUNICORN_WORKER_CLASS={name!r} is not a Gunicorn worker class "
                         "(e.g. gthread, sync, or a module.Class path)") from None
    return name


# Requests Gunicorn cannot parse get the API's JSON error shapes, not HTML.
install_json_protocol_errors()

wsgi_app = "service:create_app()"
_host = os.environ.get("HOST") or "0.0.0.0"
if "/" in _host:
    raise SystemExit(f"Error: HOST={_host!r} is an address to bind (e.g. 127.0.0.1 or 0.0.0.0), not a URL")
bind = f"{_host}:{_setting('PORT', 8000, minimum=1, maximum=65535)}"
workers = _setting("WEB_CONCURRENCY", default_workers(), minimum=1)
# gthread keeps connections alive (Nginx reuses them through its upstream
# keepalive pool); the sync worker closes every connection after one request.
worker_class = _worker_class(os.environ.get("GUNICORN_WORKER_CLASS") or "gthread")
# One thread: prediction is CPU-bound and holds the GIL, so more threads add no
# throughput, only waits for the GIL between requests in flight. Measured with
# `make bench` (one worker on one core, 70% of its maximum): the server's own
# p99 was 1-1.6 ms with 1 thread, 2.7-3.3 ms with 2, 5-6 ms with 4, at the same
# CPU per request. Idle keep-alive connections wait in gthread's poller, not in
# a thread; Nginx buffers slow clients' bodies before they reach a worker.
threads = _setting("GUNICORN_THREADS", 1, minimum=1)
# Nginx in front reads the request line, and each header line, into one of its
# 8 KiB large_client_header_buffers (nginx/default.conf.template, Nginx's default):
# a line of at most 8190 bytes before its CRLF. The same limits here, so that Nginx
# answers every line too long for a replica itself (414 or 431, with a request id),
# and a replica takes what Nginx passes. 8190 is Gunicorn's largest request line and
# its default header field size.
limit_request_line = 8190
limit_request_field_size = 8190
# Longer than Nginx's upstream keepalive_timeout (60 s), so Nginx closes idle
# connections first and never sends a request on a socket Gunicorn just closed.
keepalive = _setting("GUNICORN_KEEPALIVE", 75, minimum=0)
timeout = _setting("GUNICORN_TIMEOUT", 30, minimum=1)
# Docker waits 10 s after SIGTERM before SIGKILL: in-flight requests get 8 s.
graceful_timeout = _setting("GUNICORN_GRACEFUL_TIMEOUT", 8, minimum=0)
preload_app = True
# Gunicorn's control socket lives at one path per user; several services (tests,
# replicas sharing a home directory) would fight over it.
control_socket_disable = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
max_requests = _setting("GUNICORN_MAX_REQUESTS", 0, minimum=0)
max_requests_jitter = max_requests // 10

accesslog = "-"
errorlog = "-"
# The access line as JSON in one write, without Gunicorn's per-request mapping
# of every header and Python logging's record (service/logs.py).
logger_class = "service.logs.AccessLogger"
try:
    loglevel = from_env()["LOG_LEVEL"].lower()
except ConfigError as _exc:
    raise SystemExit(f"Error: {_exc}") from None
logconfig_dict = gunicorn_logconfig(loglevel.upper())


def on_starting(server):
    """Say in the log how many workers the CPU quota led to (``/ready`` says it as data)."""
    server.log.info(
        "starting %d %s worker(s) x %d thread(s) on %s", workers, server.cfg.worker_class_str, threads, bind
    )


def pre_fork(server, worker):
    """Freeze the preloaded app's objects out of the garbage collector's reach before forking.

    A collection in a worker writes to the header of every object it scans,
    which copies the page holding it out of the memory shared with the master.
    Frozen objects are never scanned, so they stay shared: measured with
    ``make bench``'s method (PSS of master plus workers), 1 worker 148 -> 117
    MiB, 2 workers 193 -> 130 MiB, 4 workers 217-241 -> 154-157 MiB. Python's
    ``gc.freeze`` documentation recommends it before a fork without exec.
    """
    gc.freeze()


def post_fork(server, worker):
    """Pin BLAS/OpenMP pools to one thread even if a library ignored the environment, and tell
    the app how Gunicorn runs it, which ``/ready`` reports (``service.config.GUNICORN_SETTINGS``)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    worker.app.wsgi().config[GUNICORN_SETTINGS] = {
        "workers": server.num_workers, "worker_class": server.cfg.worker_class_str, "threads": server.cfg.threads,
    }


def post_worker_init(worker):
    """Answer Gunicorn's own errors on a path in the shape the app registered for it (``/v2``'s)."""
    answer_in_path_shape(worker)


def child_exit(server, worker):
    """Drop a dead worker's live gauges so /metrics only counts running workers."""
    multiprocess.mark_process_dead(worker.pid)
