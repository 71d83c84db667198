"""A tracked publish overlaps its record's creation with the publish: the creation is sent before the message and its
answer read after it, so the record exists before any worker can receive the message, without a round trip of its
own in front of the publish."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.messaging import Producer

from progress.held import HeldConnection
from worker import app, load_tasks
from worker.store import progress_store


def test_a_tracked_publish_sends_the_creation_before_the_message_and_reads_its_answer_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_tasks()
    order: list[str] = []
    send, read_sent, publish = HeldConnection.send, HeldConnection.read_sent, Producer.publish

    def sending(self: HeldConnection, *args: Any, **kwargs: Any) -> bool:
        order.append("creation sent")
        return send(self, *args, **kwargs)

    def reading(self: HeldConnection) -> None:
        order.append("answer read" if self._unread is not None else "nothing to read")
        read_sent(self)

    def publishing(self: Producer, *args: Any, **kwargs: Any) -> Any:
        order.append("message published")
        return publish(self, *args, **kwargs)

    monkeypatch.setattr(HeldConnection, "send", sending)
    monkeypatch.setattr(HeldConnection, "read_sent", reading)
    monkeypatch.setattr(Producer, "publish", publishing)

    # No worker consumes this queue in this test: only the publish is under test.
    result = app.tasks["tasks.diagnostics.tracked_noop"].apply_async(kwargs={"updates": 0}, queue="backtest")

    # (then Celery's task-sent event, published once the task's message is out)
    assert order[:3] == ["creation sent", "message published", "answer read"]
    assert set(order[3:]) <= {"message published"}
    record = progress_store().require(result.id)
    assert record.current_status == "queued" and record.metadata.get("queue")
