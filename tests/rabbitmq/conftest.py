"""A real RabbitMQ node for the session (taskrunner.rabbitmq_server: Debian's package, private ports, node name and
data), and Celery workers whose broker it is while results and progress stay on the session Redis.

Without rabbitmq-server installed the tests skip on a laptop and fail under CI=true (scripts/ensure-test-deps
installs it when it can). The node starts in 5-20 s, so once per session.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from base.settings import Settings
from taskrunner.rabbitmq_server import RabbitServer, rabbitmq_server_binary
from tests.brokers import settings_app

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
    """A Celery app configured like worker.app on that broker (results on db 7)."""
    env = broker_env(broker_url, redis_base)
    settings = Settings(broker_url=env["TASKRUNNER_BROKER_URL"], REDIS_URL=env["REDIS_URL"],
                        result_backend=env["TASKRUNNER_RESULT_BACKEND"])
    return settings_app(settings, broker_url.split(":", maxsplit=1)[0])
