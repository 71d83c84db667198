"""Namespaces that cannot collide: no task id reaches a notification channel or another feature's key.

Before layout 2 the progress core and the app shared the channel prefix `tr:chan:`, so a task with id `user:alice`
(a valid id: `:` is allowed) published its progress on alice's notification channel.
"""

from __future__ import annotations

import time

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from base.keys import AppKeys
from notify import NotificationStore
from progress import ProgressStore
from progress.keys import TASK_ID_PATTERN, Keys, check_task_id

TASK_IDS = st.from_regex(TASK_ID_PATTERN.replace("+$", "{1,60}$"), fullmatch=True)
USER_IDS = st.from_regex(r"^[A-Za-z0-9_.@+-]{1,40}$", fullmatch=True)


def _drain(pubsub: redis.client.PubSub, until: float) -> list[dict[str, str]]:
    out = []
    while time.monotonic() < until:
        msg = pubsub.get_message(timeout=0.05)
        if msg is not None and msg["type"] == "message":
            out.append(msg)
    return out


def test_a_task_named_user_alice_never_reaches_alices_notifications(redis_client: redis.Redis) -> None:
    store = ProgressStore(redis_client)
    notes = NotificationStore(redis_client)
    alice = AppKeys("tr").user_channel("alice")
    pubsub = redis_client.pubsub()
    pubsub.subscribe(alice, store.keys.channel("user:alice"))
    try:
        store.create_task("fetch_data", 2, task_id="user:alice")
        store.update_progress("user:alice", "running", 1)
        store.update_progress("user:alice", "completed", 2)
        notes.create("alice", "info", "hello", "a real notification")
        got = _drain(pubsub, time.monotonic() + 0.5)
    finally:
        pubsub.close()
    on_alice = [m for m in got if m["channel"] == alice]
    on_task = [m for m in got if m["channel"] == store.keys.channel("user:alice")]
    assert len(on_task) == 3  # the task's own events went out on its own channel
    assert len(on_alice) == 1 and "a real notification" in on_alice[0]["data"]  # and only the note reached alice


@given(task_id=TASK_IDS, user_id=USER_IDS)
def test_no_task_id_names_a_key_or_channel_of_notifications_or_the_app(task_id: str, user_id: str) -> None:
    progress = Keys("tr", buckets=8)
    app = AppKeys("tr")
    task_names = [progress.record(task_id), progress.events(task_id), progress.channel(task_id)]
    app_names = [app.user_channel(user_id), app.user_notifications(user_id), app.user_unread(user_id),
                 app.notification(user_id, "0" * 32), app.user_notification_dedup(user_id, "k"),
                 app.results_channel("analysis", user_id), app.prices_channel(user_id), app.broadcast_channel(),
                 app.worker_deaths(task_id), app.bars(user_id), app.analysis(task_id), app.batch(task_id)]
    assert all(n.startswith("{tr:") for n in task_names)  # the progress sub-namespace
    assert not any(n.startswith("{tr:") for n in app_names)  # nothing else is in it
    assert set(task_names).isdisjoint(app_names)


def test_task_ids_that_could_break_out_of_their_names_are_refused() -> None:
    for bad in ["a{b}", "a*", "a?", "a[b]", "a b", "a\nb", "", "x" * 201, "a\\b"]:
        with pytest.raises(ValueError, match="task_id"):
            check_task_id(bad)
    assert check_task_id("user:alice") == "user:alice"
