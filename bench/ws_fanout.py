"""ws_fanout: N concurrent WebSocket subscribers on one API process; latency from a progress write to receipt."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.common import ROOT, ScenarioResult, bench_env, percentile
from progress import AsyncProgressStore
from taskrunner.redis_server import free_port

TOKEN = "bench-service-token"


def _start_api(base_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **bench_env(base_url), "TASKRUNNER_API_SERVICE_TOKEN": TOKEN,
           "TASKRUNNER_API_JWT_SECRET": "bench-jwt-secret-long-enough-for-hs256"}
    log = Path(tempfile.gettempdir()) / f"taskrunner-bench-api-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/internal/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the API did not start; see {log}")


async def _latencies(base: str, store: AsyncProgressStore, clients: int, updates: int) -> list[float]:
    """Seconds from just before each write until each socket has the message, over `updates` writes."""
    tid = (await store.create_task("bench_fanout", updates)).task_id
    url = f"ws{base[4:]}/internal/ws/task/{tid}"
    gate = asyncio.Semaphore(100)

    async def open_one() -> Any:
        async with gate:
            ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"},
                                          open_timeout=120, ping_interval=None, max_queue=None)
            await ws.recv()  # the snapshot
            return ws

    sockets = await asyncio.gather(*(open_one() for _ in range(clients)))
    out: list[float] = []
    try:
        for i in range(1, updates + 1):
            t0 = time.perf_counter()
            await store.update_progress(tid, "running", i)

            async def receive(ws: Any, want: int = i, start: float = t0) -> float:
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("progress", {}).get("current") == want:
                        return time.perf_counter() - start

            out += await asyncio.gather(*(receive(ws) for ws in sockets))
            await asyncio.sleep(0.05)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return out


def run(base_url: str, *, counts: tuple[int, ...] = (1, 1000, 5000), updates: int = 10) -> ScenarioResult:
    """p50/p99 at each client count on one uvicorn process; the 1-client figure is the baseline."""
    proc, base = _start_api(base_url)
    results: dict[int, list[float]] = {}
    try:
        async def main() -> None:
            store = AsyncProgressStore.from_url(f"{base_url}/2")
            try:
                for n in counts:
                    results[n] = await _latencies(base, store, n, updates)
            finally:
                await store.redis.aclose()

        asyncio.run(main())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    p99 = {n: percentile(v, 99) * 1000 for n, v in results.items()}
    p50 = {n: percentile(v, 50) * 1000 for n, v in results.items()}
    measured = {f"p99_ms_{n}_clients": p99[n] for n in counts if n > 1}
    measured |= {f"p50_ms_{n}_clients": p50[n] for n in counts if n > 1}
    return ScenarioResult(
        name="ws_fanout",
        measured=measured,
        baseline={"p99_ms_1_client": p99[1], "p50_ms_1_client": p50[1]},
        ratio=p99[1000] / p99[1] if 1000 in p99 else None,
        ratio_meaning="p99 update-to-receipt latency with 1,000 sockets / with 1 socket",
        target="p99 under 50 ms with 1,000 sockets; 5,000 reported",
        met=p99.get(1000, float("inf")) < 50.0,
        notes=f"{updates} updates per count; clients run in the benchmark process on the same 2 cores as the API "
              "and Redis, so their own receive time is in the figure",
    )
