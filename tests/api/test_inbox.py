"""A socket's inbox: items in order, overflow turns into one RESYNC (the consumer re-reads durable state), a waiting
consumer is woken by a push, and a quiet spell ends the wait with None (the caller's keep-alive)."""

from __future__ import annotations

import asyncio

from api.hub import RESYNC, Inbox


def test_items_come_out_in_the_order_they_were_pushed() -> None:
    async def run() -> list[object]:
        inbox = Inbox(10)
        for i in range(5):
            inbox.push(i)
        return [await inbox.get(timeout=1) for _ in range(5)]

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]


def test_a_full_inbox_is_emptied_and_left_holding_a_single_resync_then_takes_new_items() -> None:
    async def run() -> list[object]:
        inbox = Inbox(3)
        for i in range(4):
            inbox.push(i)
        inbox.push("after")
        return [await inbox.get(timeout=0.01) for _ in range(3)]

    assert asyncio.run(run()) == [RESYNC, "after", None]


def test_a_waiting_consumer_gets_the_item_pushed_while_it_waits() -> None:
    async def run() -> object:
        inbox = Inbox(3)
        waiting = asyncio.create_task(inbox.get(timeout=30))
        await asyncio.sleep(0)
        inbox.push("live")
        return await waiting

    assert asyncio.run(run()) == "live"


def test_each_quiet_spell_ends_its_wait_with_none_and_items_still_arrive_after_it() -> None:
    async def run() -> list[object]:
        inbox = Inbox(3)
        first = await inbox.get(timeout=0.01)
        second = await inbox.get(timeout=0.01)  # the timer is armed again for a second quiet spell
        inbox.push("late")
        return [first, second, await inbox.get(timeout=0.01)]

    assert asyncio.run(run()) == [None, None, "late"]
