"""Helpers for scenarios that run real Celery tasks: wait until a batch's results are all stored."""

from __future__ import annotations

import time
from typing import Any


def wait_all_stored(app: Any, task_ids: list[str], *, timeout: float = 300.0) -> float:
    """Blocks until Celery stored a result for every id (one MGET per poll); returns the monotonic end time."""
    backend = app.backend
    keys = [backend.get_key_for_task(t) for t in task_ids]
    pending = keys
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(keys)} results missing after {timeout}s")
        values = backend.client.mget(pending)
        pending = [k for k, v in zip(pending, values, strict=True) if v is None or b'"SUCCESS"' not in v]
        if pending:
            time.sleep(0.01)
    return time.monotonic()
