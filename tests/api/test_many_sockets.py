"""Many concurrent WebSocket clients on one API process all receive a progress update (the seed claims 1,000+).

TASKRUNNER_API_WS_CLIENTS sets how many (default 1000); the benchmark reuses this scenario to measure it.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import websockets

from progress import ProgressStore
from tests.api.conftest import SERVICE_TOKEN, bearer

CLIENTS = int(os.environ.get("TASKRUNNER_API_WS_CLIENTS", "1000"))


async def _many_clients_receive_one_update(base: str, clients: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    store = ProgressStore.from_url(os.environ["TASKRUNNER_PROGRESS_URL"])
    tid = store.create_task("fan_out", 100).task_id
    url = f"ws{base[4:]}/internal/ws/task/{tid}"
    sockets: list[Any] = []
    try:
        # Given `clients` sockets on one task, each having received the current state
        connect = asyncio.Semaphore(100)  # the client side's own handshake concurrency, not the server's limit

        async def open_one() -> Any:
            async with connect:
                ws = await websockets.connect(url, additional_headers=bearer(SERVICE_TOKEN), open_timeout=60,
                                              ping_interval=None)
                assert json.loads(await ws.recv())["status"] == "created"
                return ws

        sockets.extend(await asyncio.gather(*(open_one() for _ in range(clients))))
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{base}/internal/health")).json()
        # When one update is written
        store.update_progress(tid, "running", 42, message="fan-out")
        # Then every socket receives it
        received = await asyncio.gather(*(ws.recv() for ws in sockets))
        return [json.loads(r) for r in received], health
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def test_a_thousand_sockets_on_one_process_all_receive_a_progress_update(api_server: str, progress_redis: Any) -> None:
    messages, health = asyncio.run(_many_clients_receive_one_update(api_server, CLIENTS))
    assert len(messages) == CLIENTS
    assert {(m["status"], m["progress"]["current"], m["message"]) for m in messages} == {("running", 42, "fan-out")}
    assert len({m["event_id"] for m in messages}) == 1
    # All of them were open at once on this one process
    assert health["websockets"]["endpoints"]["task"] >= CLIENTS
