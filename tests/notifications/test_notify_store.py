"""NotificationStore semantics against the session's real Redis (db 0, flushed per test)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from pydantic import ValidationError

from base.keys import AppKeys
from notify import AsyncNotificationStore, Notification, NotificationStore, NotificationType, NotifyConfig

DAY_MS = 86_400_000


class FakeClock:
    """A settable clock (epoch seconds), so expiry is tested without waiting."""

    def __init__(self, t: float = 1_750_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def uid() -> str:
    """A fresh user id (Pub/Sub channels are shared by every database: keep tests apart)."""
    return f"u-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def nstore(redis_client: redis.Redis) -> NotificationStore:
    return NotificationStore(redis_client)


def test_key_formats_are_pinned() -> None:
    keys = AppKeys("tr")
    assert keys.notification("abc") == "tr:notif:abc"
    assert keys.notification_prefix() + "abc" == keys.notification("abc")
    assert keys.user_notifications("alice") == "tr:notif:user:alice"
    assert keys.user_unread("alice") == "tr:notif:unread:alice"
    assert keys.user_channel("alice") == "tr:chan:user:alice"
    assert keys.user_channel_pattern() == "tr:chan:user:*"
    assert keys.user_notification_dedup("alice", "k1") == "tr:notif:sent:alice:k1"


def test_a_new_notification_is_unread_and_listed_newest_first(nstore: NotificationStore) -> None:
    # Given a user with three notifications created one after another
    user = uid()
    titles = ["first", "second", "third"]
    created = [nstore.create(user, "info", t, f"body of {t}", data={"n": i}) for i, t in enumerate(titles)]

    # Then all are unread and listed newest first, with their fields intact
    listed = nstore.list(user)
    assert [n.title for n in listed] == list(reversed(titles))
    assert [n.id for n in listed] == [n.id for n in reversed(created)]
    assert all(not n.read for n in listed)
    assert listed[-1].data == {"n": 0} and listed[-1].message == "body of first"
    assert listed[0].type is NotificationType.INFO and listed[0].user_id == user
    assert nstore.unread_count(user) == 3
    assert nstore.get(user, created[1].id) == created[1]


def test_the_json_shape_follows_the_seed(nstore: NotificationStore) -> None:
    note = nstore.create(uid(), "success", "Order filled", "7203 x100")
    body = note.model_dump(mode="json")
    assert {"id", "user_id", "type", "title", "message", "read", "created_at"} <= set(body)
    assert "duplicate" not in body
    assert body["type"] == "success" and body["read"] is False


def test_mark_read_changes_only_the_users_own_notifications(nstore: NotificationStore) -> None:
    # Given two users with notifications
    alice, bob = uid(), uid()
    a1 = nstore.create(alice, "info", "a1", "")
    a2 = nstore.create(alice, "warning", "a2", "")
    b1 = nstore.create(bob, "error", "b1", "")

    # When alice marks her first and bob's notification read
    changed = nstore.mark_read(alice, [a1.id, b1.id])

    # Then only hers changed; bob's stays unread and his count is untouched
    assert changed == 1
    assert nstore.unread_count(alice) == 1
    assert [n.id for n in nstore.list(alice, unread_only=True)] == [a2.id]
    got = nstore.get(alice, a1.id)
    assert got is not None and got.read and got.read_at is not None
    assert nstore.unread_count(bob) == 1
    b1_now = nstore.get(bob, b1.id)
    assert b1_now is not None and not b1_now.read
    # and another user's notification is invisible to alice
    assert nstore.get(alice, b1.id) is None
    # Marking it again changes nothing
    assert nstore.mark_read(alice, [a1.id]) == 0


def test_mark_all_read_clears_the_unread_count(nstore: NotificationStore) -> None:
    user, other = uid(), uid()
    for i in range(4):
        nstore.create(user, "info", f"n{i}", "")
    nstore.create(other, "info", "other", "")
    assert nstore.mark_all_read(user) == 4
    assert nstore.unread_count(user) == 0
    assert nstore.list(user, unread_only=True) == []
    assert all(n.read for n in nstore.list(user))
    assert nstore.unread_count(other) == 1


def test_an_idempotency_key_returns_the_first_notification_and_sends_nothing(nstore: NotificationStore) -> None:
    user = uid()
    with nstore.subscribe(user) as feed:
        # Given a notification created with a key
        first = nstore.create(user, "info", "Batch done", "1", idempotency_key="batch:b1:" + user)
        # When the same key is used again (a retried batch), then a different notification is sent
        again = nstore.create(user, "info", "Batch done", "2", idempotency_key="batch:b1:" + user)
        other = nstore.create(user, "info", "Something else", "3")

        # Then the second create returned the first and published nothing: the feed's next message is the third
        assert again.id == first.id and again.duplicate and not first.duplicate
        assert again.message == "1"
        got = [feed.get(timeout=10), feed.get(timeout=10)]
    assert [n.id for n in got if n] == [first.id, other.id]
    assert [n.id for n in nstore.list(user)] == [other.id, first.id]


def test_idempotency_keys_are_scoped_to_the_user(nstore: NotificationStore) -> None:
    alice, bob = uid(), uid()
    a = nstore.create(alice, "info", "t", "m", idempotency_key="same-key")
    b = nstore.create(bob, "info", "t", "m", idempotency_key="same-key")
    assert a.id != b.id and not b.duplicate
    assert nstore.unread_count(bob) == 1


def test_each_user_keeps_only_the_newest_notifications(redis_client: redis.Redis) -> None:
    # Given a cap of 5 per user
    nstore = NotificationStore(redis_client, config=NotifyConfig(max_per_user=5))
    user = uid()
    created = [nstore.create(user, "info", f"n{i}", "") for i in range(8)]

    # Then the newest 5 are kept, the three oldest are gone with their hashes
    assert [n.id for n in nstore.list(user, limit=100)] == [n.id for n in reversed(created[3:])]
    assert nstore.unread_count(user) == 5
    keys = AppKeys()
    assert [redis_client.exists(keys.notification(n.id)) for n in created[:3]] == [0, 0, 0]
    assert redis_client.zcard(keys.user_unread(user)) == 5


def test_notifications_expire_after_their_ttl(redis_client: redis.Redis) -> None:
    clock = FakeClock()
    ttl_s = 30 * 86_400
    nstore = NotificationStore(redis_client, config=NotifyConfig(ttl_s=ttl_s), clock=clock)
    user = uid()
    old = nstore.create(user, "info", "old", "")
    keys = AppKeys()
    # Every key the notification lives in has a TTL, so an idle user's data vanishes
    for key in (keys.notification(old.id), keys.user_notifications(user), keys.user_unread(user)):
        assert 0 < redis_client.ttl(key) <= ttl_s

    # When more than the TTL has passed (by the store's clock)
    clock.t += ttl_s + 1
    # Then it is no longer listed or counted, and the next create trims it from the user's sets
    assert nstore.list(user) == []
    assert nstore.unread_count(user) == 0
    new = nstore.create(user, "info", "new", "")
    assert redis_client.zrange(keys.user_notifications(user), 0, -1) == [new.id]
    assert redis_client.zrange(keys.user_unread(user), 0, -1) == [new.id]


def test_pages_cover_every_notification_once_even_within_one_millisecond(redis_client: redis.Redis) -> None:
    # Given seven notifications created in the same millisecond
    nstore = NotificationStore(redis_client, clock=FakeClock())
    user = uid()
    ids = {nstore.create(user, "info", f"n{i}", "").id for i in range(7)}

    # When paging two at a time with the last id as the cursor
    seen: list[str] = []
    before = None
    while True:
        page = nstore.list(user, limit=2, before=before)
        if not page:
            break
        seen += [n.id for n in page]
        before = page[-1].id

    # Then every notification appears exactly once
    assert len(seen) == 7 and set(seen) == ids


def test_an_unread_page_continues_after_a_cursor_that_was_read_meanwhile(redis_client: redis.Redis) -> None:
    clock = FakeClock()
    nstore = NotificationStore(redis_client, clock=clock)
    user = uid()
    created = []
    for i in range(5):
        clock.t += 1
        created.append(nstore.create(user, "info", f"n{i}", ""))
    first_page = nstore.list(user, unread_only=True, limit=2)
    assert [n.id for n in first_page] == [created[4].id, created[3].id]
    nstore.mark_read(user, [n.id for n in first_page])
    rest = nstore.list(user, unread_only=True, limit=10, before=first_page[-1].id)
    assert [n.id for n in rest] == [created[2].id, created[1].id, created[0].id]


def test_invalid_input_is_refused() -> None:
    nstore = NotificationStore(redis.Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True))
    user = uid()
    # Validation happens before any round trip (this client points at a closed port)
    with pytest.raises(ValidationError, match="title"):
        nstore.create(user, "info", "x" * 201, "m")
    with pytest.raises(ValidationError, match="message"):
        nstore.create(user, "info", "t", "m" * 5_001)
    with pytest.raises(ValueError, match="urgent"):
        nstore.create(user, "urgent", "t", "m")
    with pytest.raises(ValidationError, match="user_id"):
        nstore.create("alice:admin", "info", "t", "m")
    with pytest.raises(ValueError, match="notification id"):
        nstore.mark_read(user, ["tr:notif:user:x"])
    with pytest.raises(ValueError, match="user_id"):
        nstore.list("a*")


def test_every_device_of_a_user_receives_a_live_notification(nstore: NotificationStore) -> None:
    # Given a user connected on two devices and another user connected on one
    user, other = uid(), uid()
    with nstore.subscribe(user) as phone, nstore.subscribe(user) as laptop, nstore.subscribe(other) as theirs:
        # When the other user is notified, then our user
        for_other = nstore.create(other, "info", "not yours", "")
        mine = nstore.create(user, "warning", "Price alert", "7203 crossed 3,000 JPY")

        # Then both devices receive ours first (Pub/Sub keeps order per channel: nothing of the other user came)
        got_phone, got_laptop = phone.get(timeout=10), laptop.get(timeout=10)
        got_theirs = theirs.get(timeout=10)
    assert got_phone == mine and got_laptop == mine
    assert got_theirs is not None and got_theirs.id == for_other.id


def test_one_process_wide_subscription_sees_every_user(nstore: NotificationStore) -> None:
    alice, bob = uid(), uid()
    with nstore.subscribe_all() as feed:
        a = nstore.create(alice, "info", "a", "")
        b = nstore.create(bob, "info", "b", "")
        got = [feed.get(timeout=10), feed.get(timeout=10)]
    # Another test's publisher could share the pattern: keep only ours, in order
    assert [(n.user_id, n.id) for n in got if n and n.user_id in (alice, bob)] == [(alice, a.id), (bob, b.id)]


def test_the_async_store_behaves_like_the_sync_one(redis_base: str, redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[list[Notification], int, int, int, Notification | None]:
        client = aioredis.Redis.from_url(f"{redis_base}/0", decode_responses=True)
        astore = AsyncNotificationStore(client)
        user, other = uid(), uid()
        a1 = await astore.create(user, "info", "a1", "m")
        await astore.create(user, "error", "a2", "m")
        b1 = await astore.create(other, "info", "b1", "m")
        dup = await astore.create(user, "info", "a3", "m", idempotency_key="k")
        dup2 = await astore.create(user, "info", "a3", "m", idempotency_key="k")
        assert dup2.id == dup.id and dup2.duplicate
        changed = await astore.mark_read(user, [a1.id, b1.id])
        listed = await astore.list(user)
        unread = await astore.unread_count(user)
        marked_all = await astore.mark_all_read(user)
        got = await astore.get(user, a1.id)
        await client.aclose()
        return listed, changed, unread, marked_all, got

    listed, changed, unread, marked_all, got = asyncio.run(scenario())
    assert [n.title for n in listed] == ["a3", "a2", "a1"]
    assert changed == 1 and unread == 2 and marked_all == 2
    assert got is not None and got.read


def test_a_connecting_device_gets_its_unread_then_live_notifications_once(redis_base: str,
                                                                          redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        client = aioredis.Redis.from_url(f"{redis_base}/0", decode_responses=True)
        astore = AsyncNotificationStore(client)
        user = uid()
        # Given two unread and one read notification sent while the device was offline
        u1 = await astore.create(user, "info", "u1", "")
        read = await astore.create(user, "info", "read", "")
        u2 = await astore.create(user, "info", "u2", "")
        await astore.mark_read(user, [read.id])
        expected = [u1.id, u2.id]

        # When the device connects, and a new one is sent once the unread ones have arrived
        got: list[str] = []
        stream = astore.stream(user)
        async for note in stream:
            got.append(note.id)
            if len(got) == 2:
                expected.append((await astore.create(user, "success", "live", "")).id)
            if len(got) == 3:
                break
        await stream.aclose()
        await client.aclose()
        return got, expected

    got, expected = asyncio.run(scenario())
    # Then it gets the unread ones oldest first, then the live one, nothing twice
    assert got == expected
