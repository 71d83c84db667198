"""ws_fanout: N concurrent WebSocket subscribers on one API process, then spread over two API processes sharing one
Redis fan-out; latency from a progress write to receipt."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
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
from progress import ProgressStore
from taskrunner.redis_server import free_port

TOKEN = "bench-service-token"


def _start_api(base_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **bench_env(base_url), "TASKRUNNER_API_SERVICE_TOKEN": TOKEN,
           "TASKRUNNER_API_JWT_SECRET": "bench-jwt-secret-long-enough-for-hs256"}
    log = Path(tempfile.gettempdir()) / f"taskrunner-bench-api-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--ws-per-message-deflate", "false"],  # as docker-compose runs it
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


def _client_process(url: str, n: int, updates: int, ready: Any, out: Any) -> None:
    """A client process: opens `n` sockets, signals ready, then records when each socket got each update."""

    async def main() -> None:
        gate = asyncio.Semaphore(100)

        async def open_one() -> Any:
            async with gate:
                ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"},
                                              open_timeout=120, ping_interval=None, max_queue=None)
                await ws.recv()  # the snapshot
                return ws

        sockets = await asyncio.gather(*(open_one() for _ in range(n)))
        ready.put(n)
        received: list[tuple[int, float]] = []

        async def listen(ws: Any) -> None:
            for _ in range(updates):
                # The message's text says which update it is; the time is taken before parsing anything else.
                raw = await ws.recv()
                t = time.time()
                received.append((json.loads(raw)["progress"]["current"], t))

        await asyncio.gather(*(listen(ws) for ws in sockets))
        out.put(received)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    asyncio.run(main())


def _latencies(bases: list[str], base_url: str, clients: int, updates: int, procs: int) -> list[float]:
    """Seconds from just before each write until each socket has the message (clients spread over processes, the
    processes over the API processes in `bases`)."""
    store = ProgressStore.from_url(f"{base_url}/2")
    tid = store.create_task("bench_fanout", updates).task_id
    urls = [f"ws{base[4:]}/internal/ws/task/{tid}" for base in bases]
    ctx = mp.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_client_process, args=(urls[i % len(urls)], n, updates, ready, out))
               for i, n in enumerate(shares) if n]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=300)
    # The fan-out of one update is over before the next starts: the gap grows with the sockets per API process.
    gap = max(0.25, 0.25 * clients / len(bases) / 1000)
    sent: dict[int, float] = {}
    for i in range(1, updates + 1):
        sent[i] = time.time()
        store.update_progress(tid, "running", i)
        time.sleep(gap)
    received = [r for _ in workers for r in out.get(timeout=300)]
    for w in workers:
        w.join(timeout=60)
    store.redis.close()
    assert len(received) == clients * updates, "every socket receives every update"
    # The first update after the sockets connected is a warm-up (the server's first fan-out to each of them).
    return [t - sent[i] for i, t in received if i > 1]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def run(base_url: str, *, counts: tuple[int, ...] = (1, 1000, 5000), spread: tuple[int, ...] = (5000, 10000),
        apis: int = 2, updates: int = 16) -> ScenarioResult:
    """p50/p99 at each of `counts` on one uvicorn process (the 1-client figure is the baseline), then at each of
    `spread` with the clients split over `apis` uvicorn processes (one Redis Pub/Sub fan-out feeds them all)."""
    results: dict[str, list[float]] = {}
    proc, base = _start_api(base_url)
    try:
        for n in counts:
            results[f"{n}_clients"] = _latencies([base], base_url, n, updates if n < 5000 else 10,
                                                 procs=1 if n == 1 else 2)
    finally:
        _stop(proc)
    started = [_start_api(base_url) for _ in range(apis)]
    try:
        for n in spread:
            results[f"{n}_clients_{apis}_apis"] = _latencies([b for _, b in started], base_url, n, 10, procs=apis)
    finally:
        for p, _ in started:
            _stop(p)
    p99 = {k: percentile(v, 99) * 1000 for k, v in results.items()}
    p50 = {k: percentile(v, 50) * 1000 for k, v in results.items()}
    measured = {f"p99_ms_{k}": v for k, v in p99.items() if k != "1_clients"}
    measured |= {f"p50_ms_{k}": v for k, v in p50.items() if k != "1_clients"}
    one = p99.get("1000_clients", float("inf"))
    return ScenarioResult(
        name="ws_fanout",
        measured=measured,
        baseline={"p99_ms_1_client": p99["1_clients"], "p50_ms_1_client": p50["1_clients"]},
        ratio=one / p99["1_clients"] if "1000_clients" in p99 else None,
        ratio_meaning="p99 update-to-receipt latency with 1,000 sockets / with 1 socket",
        target=f"p99 under 50 ms with 1,000 sockets; 5,000 reported; 5,000 and 10,000 over {apis} API processes "
               "reported",
        met=one < 50.0,
        notes=f"{updates} updates up to 1,000 sockets, 10 from 5,000, the first one a warm-up; the gap between "
              "updates is 0.25 s per 1,000 sockets per API process; clients in 2 processes on the same 2 cores as "
              "the API processes and Redis, so their own receive time is in the figure",
    )
