"""Test fixtures: a real Redis server started per session (the project's own launcher) and real Celery workers.

Layout of the test Redis: db 0 for unit tests of the progress core (flushed per test), db 1 for the Celery broker
and results of the integration worker, db 2 for that worker's progress records (flushed per test, which leaves the
broker's queue bindings alone).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from base.queues import ALL_QUEUES
from taskrunner.processes import start_celery_worker, stop_process_group
from taskrunner.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
_server: RedisServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Starts the session's Redis before any test module imports the Celery app (it reads REDIS_URL at import)."""
    global _server
    if hasattr(config, "workerinput") or _server is not None:
        return
    _server = RedisServer(Path(tempfile.mkdtemp(prefix="taskrunner-test-redis-"))).start()
    base = _server.url.rsplit("/", 1)[0]
    os.environ["REDIS_URL"] = f"{base}/1"
    os.environ["TASKRUNNER_PROGRESS_URL"] = f"{base}/2"
    os.environ["TASKRUNNER_PROGRESS_INTERVAL_S"] = "0.2"
    os.environ["TASKRUNNER_TEST_REDIS_BASE"] = base
    os.environ.setdefault("TASKRUNNER_HOME", tempfile.mkdtemp(prefix="taskrunner-home-"))
    # Made-up prices are never a default: the suite chooses them, for offline, reproducible numbers.
    os.environ.setdefault("TASKRUNNER_MARKET_PROVIDER", "synthetic")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stops the session's Redis."""
    if _server is not None:
        _server.stop()


@pytest.fixture(scope="session")
def redis_base() -> str:
    """redis://host:port of the session's real Redis (no database)."""
    return os.environ["TASKRUNNER_TEST_REDIS_BASE"]


@pytest.fixture
def redis_client(redis_base: str) -> Iterator[redis.Redis]:
    """A client on db 0, flushed before each test."""
    client = redis.Redis.from_url(f"{redis_base}/0", decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def progress_redis() -> Iterator[redis.Redis]:
    """The progress database the worker and the API use (db 2), flushed before each test."""
    client = redis.Redis.from_url(os.environ["TASKRUNNER_PROGRESS_URL"], decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> object:
    """A ProgressStore on a clean db 0."""
    from progress import ProgressStore

    return ProgressStore(redis_client)


def start_worker(
    queues: str = ALL_QUEUES,
    *,
    name: str = "w1",
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Starts a real `celery -A worker worker` process on the test Redis and waits until it answers a ping."""
    log = Path(tempfile.gettempdir()) / f"taskrunner-{name}-{os.getpid()}.log"
    return start_celery_worker(queues=queues, name=name, concurrency=concurrency, env=extra_env, log=log,
                               extra_args=extra_args)


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stops a worker started by `start_worker` (its whole process group)."""
    stop_process_group(proc, sig)


@pytest.fixture(scope="session")
def celery_worker() -> Iterator[subprocess.Popen[bytes]]:
    """One real worker consuming all four queues for the session."""
    proc = start_worker()
    yield proc
    stop_worker(proc)


@pytest.fixture
def worker_store(celery_worker: subprocess.Popen[bytes]) -> object:
    """The ProgressStore the worker writes to (db 2), cleared before each test."""
    from worker.store import progress_store

    st = progress_store()
    st.redis.flushdb()
    return st
