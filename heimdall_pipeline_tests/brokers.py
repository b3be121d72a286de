"""Celery brokers for the worker tests: the devstack's two (RabbitMQ, as Heimdall runs it, and Redis)
and private ones a test may SIGKILL and restart, each keeping its messages on disk as a production
broker does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

BROKERS = ("rabbitmq", "redis")
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def devstack_broker_urls(kind: str) -> tuple[str, str]:
    """(broker, result backend) of `make up`'s stack: RabbitMQ or Redis as broker, Redis for results."""
    variable = {"rabbitmq": "HEIMDALL_RABBITMQ_URL", "redis": "HEIMDALL_REDIS_URL"}[kind]
    broker, backend = os.environ.get(variable), os.environ.get("HEIMDALL_CELERY_RESULT_BACKEND")
    if not (broker and backend):
        pytest.fail(f"{variable} / HEIMDALL_CELERY_RESULT_BACKEND are not set: run the tests with `make test`")
    return broker, backend


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(ready, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.1)


class PersistentRedis:
    """A Redis with an append-only file fsynced on every write: a SIGKILL loses nothing it acknowledged."""

    def __init__(self, directory: Path):
        self.port, self.directory, self.process = _free_port(), directory, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
            except redis.exceptions.RedisError:
                return False

        _wait(ready, "redis-server", 20)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (name, ports, state directory): durable queues and persistent
    messages are on disk, so they come back after a SIGKILL and restart."""

    def __init__(self, directory: Path):
        self.port, self.dist_port, self.directory, self.process = _free_port(), _free_port(), directory, None
        self.node = f"heimdall-test-{uuid.uuid4().hex[:8]}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        (self.directory / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "HOME": str(self.directory),
            "RUNNING_UNDER_SYSTEMD": "true",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        with open(self.directory / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [RABBITMQ_SERVER], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.directory
            )

        def ready() -> bool:
            assert self.process.poll() is None, (self.directory / "server.log").read_text(errors="replace")[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        _wait(ready, "rabbitmq-server", 90)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
