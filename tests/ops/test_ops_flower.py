"""A real Flower, behind basic auth, shows our task in PROGRESS while it runs and then SUCCESS (it reads events)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from progress import ProgressStore
from taskrunner.redis_server import free_port, terminate
from tests.conftest import ROOT
from tests.helpers import wait_until
from worker import load_tasks

load_tasks()
from tasks.maintenance.diagnostics import count  # noqa: E402

pytestmark = pytest.mark.integration

USER, PASSWORD = "ops", "flower-test-password"


class Flower:
    """A running `celery -A worker flower` and a small client for its HTTP API."""

    def __init__(self, port: int, auth: str | None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.auth = auth

    def get(self, path: str, *, auth: bool = True) -> tuple[int, Any]:
        """GET `path`; returns (status, decoded JSON or text)."""
        req = urllib.request.Request(self.base + path)
        if auth and self.auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(self.auth.encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                body = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return 0, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body


@pytest.fixture(scope="module")
def flower(celery_worker: subprocess.Popen[bytes]) -> Iterator[Flower]:
    """Flower on a free loopback port with basic auth, watching the session worker's events."""
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"taskrunner-flower-{os.getpid()}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "flower", f"--port={port}", "--address=127.0.0.1",
         f"--basic-auth={USER}:{PASSWORD}"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    client = Flower(port, f"{USER}:{PASSWORD}")
    try:
        wait_until(lambda: proc.poll() is not None or client.get("/healthcheck")[0] == 200, timeout=60,
                   what="flower to answer /healthcheck")
        assert proc.poll() is None, f"flower exited; see {log.name}"
        yield client
    finally:
        terminate(proc, timeout=10)
        log.close()


def wait_until_quietly(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether `predicate` holds within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_flower_refuses_its_api_without_the_basic_auth_password(flower: Flower) -> None:
    assert flower.get("/api/tasks", auth=False)[0] == 401
    assert Flower(int(flower.base.rsplit(":", 1)[1]), f"{USER}:wrong").get("/api/tasks")[0] == 401


def test_flower_shows_a_running_task_in_progress_then_success(flower: Flower, worker_store: ProgressStore) -> None:
    # Flower learns of tasks from events only from the moment its receiver listens, which can be a while after its
    # web server answers: warm-up tasks are sent until one is seen (events sent before that are lost for good).
    def warm_up_seen() -> bool:
        warmup = count.delay(n=1)
        warmup.get(timeout=30)
        return wait_until_quietly(lambda: flower.get(f"/api/task/info/{warmup.id}")[0] == 200, 2.0)

    wait_until(warm_up_seen, timeout=60, interval=0.1, what="flower to have seen a warm-up task's events")

    res = count.delay(n=15, delay=0.2)
    seen: list[str] = []

    def finished() -> bool:
        status, info = flower.get(f"/api/task/info/{res.id}")
        if status == 200 and isinstance(info, dict):
            state = str(info.get("state"))
            if not seen or seen[-1] != state:
                seen.append(state)
        return bool(seen) and seen[-1] in ("SUCCESS", "FAILURE")

    wait_until(finished, timeout=60, interval=0.1, what="flower to show the task finished")
    assert "PROGRESS" in seen and seen[-1] == "SUCCESS", seen
    assert seen.index("PROGRESS") < seen.index("SUCCESS")
    assert res.get(timeout=10) == {"counted": 15, "symbol": None}
