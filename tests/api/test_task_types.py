"""A worker's records carry the seed's short task_type and Celery's full task_name, and the API and the command
line filter by either (issue 16, item 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ROOT, settings
from worker import load_tasks

load_tasks()
from tasks.market.tasks import fetch_data  # noqa: E402

pytestmark = pytest.mark.integration


def _ls(*args: str) -> dict[str, Any]:
    env = {**os.environ, "REDIS_URL": os.environ["TASKRUNNER_PROGRESS_URL"]}
    out = subprocess.run([sys.executable, "-m", "taskrunner.cli", "ls", "--json", *args], cwd=Path(ROOT), env=env,
                         text=True, capture_output=True, timeout=60, check=True)
    listed: dict[str, Any] = json.loads(out.stdout)
    return listed


def test_a_fetch_run_by_a_worker_is_found_by_its_short_type_and_by_its_full_name(
    celery_worker: object, make_client: Callable[..., Any], service: dict[str, str]
) -> None:
    client = make_client(settings())
    result = fetch_data.delay(symbol="7203.T", period="1mo", provider="synthetic")
    result.get(timeout=60)

    by_type = client.get("/internal/tasks", headers=service, params={"task_type": "fetch_data"}).json()["tasks"]
    by_name = client.get("/internal/tasks", headers=service, params={"task_name": fetch_data.name}).json()["tasks"]

    assert [(t["task_id"], t["task_type"], t["task_name"]) for t in by_type] == \
        [(result.id, "fetch_data", "tasks.market_data.fetch_data")]
    assert [t["task_id"] for t in by_name] == [result.id]
    assert [t["task_id"] for t in _ls("--type", "fetch_data")["tasks"]] == [result.id]
    assert [t["task_id"] for t in _ls("--name", fetch_data.name)["tasks"]] == [result.id]


def test_a_name_combined_with_a_symbol_is_a_422_with_the_reason(
    make_client: Callable[..., Any], service: dict[str, str]
) -> None:
    client = make_client(settings())
    res = client.get("/internal/tasks", headers=service, params={"task_name": fetch_data.name, "symbol": "7203.T"})
    assert res.status_code == 422 and "task_name filters alone" in res.json()["detail"]
