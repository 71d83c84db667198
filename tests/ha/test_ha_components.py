"""Every component on a real Sentinel setup, found only through its sentinels: the Celery broker and result backend
(a worker runs a task), the progress store, notifications, the API, the CLI and Beat's redbeat client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from base.connections import progress_client
from base.queues import ALL_QUEUES
from notify import NotificationStore, NotifyConfig
from progress import ProgressStore, TaskStatus
from taskrunner.processes import stop_process_group
from taskrunner.sentinel_cluster import SentinelCluster
from tests.brokers import ROOT, settings_app, start_broker_worker
from tests.ha.conftest import sentinel_settings
from tracking.store import store_config

pytestmark = pytest.mark.integration
TOKEN = "ha-service-token"


def _env(cluster: SentinelCluster) -> dict[str, str]:
    return {"REDIS_URL": cluster.sentinel_url(1), "TASKRUNNER_PROGRESS_URL": cluster.sentinel_url(2),
            "TASKRUNNER_SENTINEL_MASTER": cluster.master_name}


def test_every_component_works_on_a_sentinel_location(cluster: SentinelCluster) -> None:
    from redbeat.schedulers import get_redis

    settings = sentinel_settings(cluster, 1, progress_url=cluster.sentinel_url(2))
    app = settings_app(settings, "ha")
    store = ProgressStore(progress_client(settings), config=store_config(settings))
    worker = start_broker_worker(app, _env(cluster), name="ha-all", queues=ALL_QUEUES, concurrency=2)
    try:
        counted = app.send_task("tasks.diagnostics.count", kwargs={"n": 5}, queue="market_data")
        note = app.send_task("tasks.notifications.send_realtime_notification",
                             kwargs={"user_id": "ha-user", "type": "info", "title": "t", "message": "m"})
        assert counted.get(timeout=30)["counted"] == 5  # broker and result backend through the sentinels
        note.get(timeout=30)
        health = subprocess.run([sys.executable, "-m", "taskrunner.cli", "health", "--timeout", "2"], cwd=ROOT,
                                env={**os.environ, **_env(cluster)}, capture_output=True, text=True, timeout=60,
                                check=False)
        doc = json.loads(health.stdout)
        assert health.returncode == 0 and doc["dependencies"]["broker"]["status"] == "connected", health.stdout
        assert {q: v["depth"] for q, v in doc["queues"].items()} == dict.fromkeys(doc["queues"], 0)
    finally:
        stop_process_group(worker)
    assert store.require(counted.id).status is TaskStatus.COMPLETED
    notes = NotificationStore(store.redis, config=NotifyConfig.from_settings(settings)).list("ha-user")
    assert [n.title for n in notes] == ["t"]

    with TestClient(create_app(ApiSettings(service_token=TOKEN), core=settings, celery_app=app)) as client:
        assert client.get("/internal/health").json()["status"] == "healthy"
        shown = client.get(f"/internal/task/{counted.id}/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert shown.json()["status"] == "completed"

    done = subprocess.run([sys.executable, "-m", "taskrunner.cli", "status", counted.id], cwd=ROOT,
                          env={**os.environ, **_env(cluster)}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"

    beat: Any = get_redis(app)  # Beat's schedule and lock: on the master the sentinels name
    assert beat.ping() is True
    assert beat.connection_pool.get_master_address()[1] == cluster.primary_port()
    app.close()
