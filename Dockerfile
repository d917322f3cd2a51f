# The inference service: Gunicorn serving the Flask app, with a model trained at
# build time by the same scikit-learn the runtime loads it with, or an artifact
# of your own built in (docs/your-model.md).
#
#   docker build -t api-inference:latest .          (or: make build)
#   make build MODEL_DIR=DIR                        (serves the artifact in DIR)
#   docker run --rm -p 8000:8000 api-inference:latest

# ---- build: install the pinned dependencies into a venv, train the model ------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies before code: editing the service does not reinstall them.
COPY requirements.txt constraints.txt ./
# The libraries' own test suites (65 MB) and pip itself are not needed to serve.
RUN pip install -r requirements.txt -c constraints.txt \
 && find /opt/venv -depth -type d -name tests -exec rm -rf {} + \
 && pip uninstall --yes --quiet pip setuptools

COPY training/ training/
# The model served from /app/model: the artifact `make build MODEL_DIR=DIR`
# staged in .image-model/ of the build context, else Iris trained here. The
# artifact records the scikit-learn that wrote it and the service refuses any
# other, so Iris is trained rather than copied from the build host, and a given
# artifact is loaded once here: one packaged by another version fails the build
# with the reason. (requirements.txt rides along because COPY fails when its only
# pattern matches nothing.) The runtime user only needs to read the files.
COPY requirements.txt .image-mode[l] /tmp/given-model/
RUN if [ -f /tmp/given-model/metadata.json ]; then \
      mkdir /app/model && cp /tmp/given-model/model.joblib /tmp/given-model/metadata.json /app/model/ \
      && python -c "from pathlib import Path; from training.artifact import load_artifact; load_artifact(Path('/app/model'))"; \
    else MODEL_DIR=/app/model python -m training; fi \
 && rm -rf /tmp/given-model \
 && chmod -R a+rX /app/model

COPY service/ service/
# Compile once here: the runtime user cannot write next to the sources.
RUN python -m compileall -q service training

# ---- runtime: the venv, the code and the artifact, run as a non-root user -----
FROM python:3.11-slim AS runtime

RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /app /app

# PROMETHEUS_MULTIPROC_DIR: each worker's metric files, on the tmpfs Docker
# mounts at /dev/shm (memory-backed and writable by every user).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODEL_DIR=/app/model \
    HOST=0.0.0.0 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/dev/shm/api-inference-metrics

USER 10001:10001
EXPOSE 8000

# Readiness, not liveness: a replica is healthy once its model passed the self-test.
# Python's urllib, so the image needs no curl; an HTTP error status raises, exit 1.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/ready', timeout=2)"]

# Exec form: Gunicorn is PID 1 and gets Docker's SIGTERM itself, so it stops
# accepting, lets in-flight requests finish (GUNICORN_GRACEFUL_TIMEOUT, 8 s) and exits.
CMD ["gunicorn", "-c", "service/gunicorn.conf.py"]

# Last, so a new revision only changes this metadata layer.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.title="api-inference" \
      org.opencontainers.image.description="HTTP inference service for a scikit-learn model (Flask + Gunicorn)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
