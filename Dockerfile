# syntax=docker/dockerfile:1
# The heimdall-pipeline image: ONE image for the code server (default command), the webserver,
# the daemon, `heimdall-migrate`, `heimdall-events`, the Celery worker (the `worker` extra) and the runs (subprocesses of the code server under compose,
# Kubernetes Jobs under Helm). Both stages install with scripts/install_wheel.sh, the very commands
# the wheel test (heimdall_pipeline_tests/test_wheel.py) runs outside the checkout.
#
#   docker build -t heimdall-pipeline:0.1.0 .
#
# No secret goes into the image: every setting arrives as an environment variable at run time
# (deploy/.env under compose, a Kubernetes Secret under Helm).

# Debian 12 like the machines the test suite runs on. Pin a digest (python:3.11-slim-bookworm@sha256:…)
# for byte-identical rebuilds; the tag alone picks up Debian and CPython security fixes.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
# .dockerignore keeps out the virtualenvs, .devstack, tests, benchmarks and any env file.
COPY . .
RUN PYTHON=python3 scripts/install_wheel.sh build /src/dist

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="heimdall-pipeline" \
      org.opencontainers.image.description="Dagster code location: Heimdall's WebSDR metadata from MinIO into TimescaleDB"

# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 heimdall \
 && useradd --system --uid 10001 --gid heimdall --home-dir /opt/dagster --no-create-home \
        --shell /usr/sbin/nologin heimdall

COPY --from=builder /src/dist /src/dist
COPY scripts/install_wheel.sh /src/scripts/install_wheel.sh
RUN PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHON=python3 \
        /src/scripts/install_wheel.sh install /src/dist /opt/venv worker \
 && rm -rf /src

# Set after the install, so pip still compiled the bytecode into the image; at run time nothing
# writes .pyc files (the root filesystem may be read-only).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

# The instance config (root dagster.yaml: storage on PostgreSQL via DAGSTER_POSTGRES_URL, the run
# queue, retries, monitoring, tick retention) and the deployment workspace (deploy/workspace.yaml:
# the gRPC code server at HEIMDALL_CODE_SERVER_HOST:HEIMDALL_CODE_SERVER_PORT), the same files
# `make serve` runs with. They are root-owned and read-only; Dagster writes only under
# $DAGSTER_HOME/storage (local artifacts and compute logs), which belongs to the user.
COPY dagster.yaml /opt/dagster/dagster_home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/app/workspace.yaml
RUN mkdir -p /opt/dagster/dagster_home/storage \
 && chown heimdall:heimdall /opt/dagster/dagster_home /opt/dagster/dagster_home/storage

WORKDIR /opt/dagster/app
USER 10001:10001

# 4000: the code server's gRPC API. The default command is `dagster api grpc`, as under `make
# serve`: the run launcher in dagster.yaml asks it which runs it is executing, which the proxy of
# `dagster code-server start` does not answer. 3000: dagster-webserver, when the container runs
# `dagster-webserver -w workspace.yaml -h 0.0.0.0 -p 3000`.
EXPOSE 4000 3000

# For the default command; the compose file gives the webserver and the daemon their own checks.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]

CMD ["dagster", "api", "grpc", "-m", "heimdall_pipeline.definitions", "-h", "0.0.0.0", "-p", "4000"]
