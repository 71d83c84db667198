"""A real RabbitMQ node for the session (taskrunner.rabbitmq_server: Debian's package, private ports, node name and
data), and Celery workers whose broker it is while results and progress stay on the session Redis.

Without rabbitmq-server installed the tests skip on a laptop and fail under CI=true (scripts/ensure-test-deps
installs it when it can). The node starts in 5-20 s, so once per session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from taskrunner.processes import stop_process_group
from taskrunner.rabbitmq_server import RabbitServer, rabbitmq_server_binary
from taskrunner.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DB = 7


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """amqp:// of the session's private RabbitMQ node."""
    if rabbitmq_server_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("rabbitmq-server is not installed (scripts/ensure-test-deps installs it as root)")
        pytest.skip("rabbitmq-server is not installed")
    server = RabbitServer(Path(tempfile.mkdtemp(prefix="taskrunner-rabbitmq-"))).start()
    try:
        yield server.url
    finally:
        server.stop()


def broker_env(broker_url: str, redis_base: str) -> dict[str, str]:
    """Environment of a process whose broker is `broker_url`; results on db 7, progress where the session has it."""
    return {"TASKRUNNER_BROKER_URL": broker_url, "REDIS_URL": f"{redis_base}/{RESULTS_DB}",
            "TASKRUNNER_RESULT_BACKEND": f"{redis_base}/{RESULTS_DB}"}


def broker_app(broker_url: str, redis_base: str) -> Celery:
    """A Celery app configured exactly like worker.app (our class, so priorities are translated), on that broker."""
    from worker.celery_app import TaskrunnerCelery
    from worker.config import celery_config

    env = broker_env(broker_url, redis_base)
    settings = Settings(broker_url=env["TASKRUNNER_BROKER_URL"], REDIS_URL=env["REDIS_URL"],
                        result_backend=env["TASKRUNNER_RESULT_BACKEND"])
    app = TaskrunnerCelery(f"taskrunner-{broker_url.split(':', maxsplit=1)[0]}", set_as_current=False)
    app.config_from_object(celery_config(settings))
    return app


def start_broker_worker(app: Celery, env: dict[str, str], *, name: str, queues: str, concurrency: int = 1,
                        timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """A real `celery -A worker worker` on that broker, once it answers a ping there."""
    log = Path(tempfile.gettempdir()) / f"taskrunner-{name}-{os.getpid()}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", queues, "-c", str(concurrency),
         "-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not any(node.startswith(f"{name}@") for reply in app.control.ping(timeout=0.5) for node in reply):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process_group(proc, signal.SIGKILL)
            raise AssertionError(f"worker {name} did not answer a ping; see {log}")
    return proc
