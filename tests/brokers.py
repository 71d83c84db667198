"""Celery apps and real workers on a broker of the test's choosing (RabbitMQ, a Sentinel cluster, a Redis db)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

from base.settings import Settings
from taskrunner.processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent


def settings_app(settings: Settings, name: str) -> Celery:
    """A Celery app configured exactly like worker.app (our class, so priorities are translated) for `settings`."""
    from worker.celery_app import TaskrunnerCelery
    from worker.config import celery_config

    app = TaskrunnerCelery(f"taskrunner-{name}", set_as_current=False)
    app.config_from_object(celery_config(settings))
    return app


def start_broker_worker(app: Celery, env: dict[str, str], *, name: str, queues: str, concurrency: int = 1,
                        timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """A real `celery -A worker worker` with `env` added, once it answers a ping on `app`'s broker."""
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
