"""Publishing while the broker is unreachable: the caller gets a clear error after a bounded retry, never a silent
drop, and the task's record says it was not queued instead of `created` for ever.

The broker here is a closed port; the progress store (the module's private Redis) is up, as when the broker runs on a
Redis of its own, or goes down between the record's creation and the publish. The publish hook has created the
record by the time kombu gives up (task_publish_retry_policy in worker/config.py bounds how long that takes).
"""

from __future__ import annotations

import time

import pytest
from kombu.exceptions import OperationalError

from progress import TaskStatus
from taskrunner.redis_server import free_port
from tests.chaos.conftest import Cluster, Figures, chaos_app

pytestmark = pytest.mark.chaos


def test_publishing_to_an_unreachable_broker_raises_and_the_record_says_the_task_was_not_queued(
    cluster: Cluster, figures: Figures
) -> None:
    from tasks.maintenance.diagnostics import count
    from worker import app

    port = free_port()
    dead = chaos_app(cluster.base, broker_url=f"redis://127.0.0.1:{port}/1")
    policy = dead.conf.task_publish_retry_policy
    store = cluster.store
    try:
        with dead.connection_for_write() as conn:
            t0 = time.monotonic()
            with pytest.raises(OperationalError, match=f"127.0.0.1:{port}"):
                count.apply_async(kwargs={"n": 3}, task_id="chaos-not-queued", connection=conn)
            waited = time.monotonic() - t0
            # Published by name (as Beat and the maintenance tasks do): the same clear error, the same record.
            with pytest.raises(OperationalError):
                app.send_task("tasks.diagnostics.count", kwargs={"n": 3}, task_id="chaos-not-queued-by-name",
                              connection=conn)
    finally:
        dead.close()

    by_name = store.require("chaos-not-queued-by-name")
    assert by_name.status is TaskStatus.ERROR and by_name.current_status == "not queued"

    rec = store.require("chaos-not-queued")
    assert rec.status is TaskStatus.ERROR and rec.current_status == "not queued"
    assert rec.error_message is not None
    assert rec.error_message.startswith("message broker unavailable, task not queued: OperationalError")
    assert store.summary().get("created", 0) == 0

    # The same task published once the broker answers again runs as usual: nothing about the failure sticks.
    cluster.start("bd", "backtest", concurrency=1)
    res = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 3}, queue="backtest")
    assert res.get(timeout=60) == {"counted": 3, "symbol": None}
    assert store.require(res.id).status is TaskStatus.COMPLETED

    figures.add(
        "broker_down_at_publish",
        tasks_run=3,
        faults_injected=1,
        tasks_lost=0,
        publish_error="kombu.exceptions.OperationalError",
        publish_error_after_s=round(waited, 2),
        publish_retry_policy=dict(policy),
        record_after_failed_publish=f"{rec.status.value}: {rec.error_message[:60]}",
    )
