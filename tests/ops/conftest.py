"""Fixtures of the operations tests: a real kombu Redis broker nobody consumes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from celery import Celery


@pytest.fixture
def broker_app(redis_base: str) -> Iterator[Celery]:
    """A Celery app like ours whose broker is db 3, emptied before the test (no worker consumes it)."""
    from worker import app

    url = f"{redis_base}/3"
    redis.Redis.from_url(url).flushdb()
    side = Celery("ops-broker-test", broker=url, set_as_current=False)
    side.conf.update(task_queues=app.conf.task_queues, task_default_queue=app.conf.task_default_queue,
                     broker_transport_options=app.conf.broker_transport_options, task_create_missing_queues=False)
    yield side
    side.close()
