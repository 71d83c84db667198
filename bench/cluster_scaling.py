"""cluster_scaling: the progress store sharded over a Redis Cluster (taskrunner/redis_cluster.py).

1. Updates with 1 vs 3 primaries (16 buckets both times): client processes each drive `store.write` (the reporter's
   one EVALSHA) over their own running tasks for a few seconds; total updates/s, and Redis CPU per update from the
   nodes' INFO cpu (user + sys, summed over nodes) before and after, less what they burn idle over as long.
2. A list page (status filter, page 1 of 20) and the summary on the 3-primary cluster holding the same tasks with
   1, 16 and 64 buckets: p50 of each (each page reads one range per bucket; B=1 is one slot on one primary).

On a 2-core machine the client processes and the three primaries share the same cores: updates/s cannot grow with
primaries here; Redis CPU per update and how it spreads over the nodes are the figures that carry over.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ScenarioResult, interleaved, median
from bench.cpu import redis_cpu_seconds
from progress import ProgressStore, StoreConfig, TaskCreate, ops
from progress.clients import sync_client
from progress.hints import index_keys, prefixes_of
from taskrunner.redis_cluster import RedisCluster

STATUSES = ("running", "completed", "completed", "error", "completed")


def _cpu(cluster: RedisCluster) -> float:
    return redis_cpu_seconds([f"redis://127.0.0.1:{port}" for port in cluster.ports])


def _driver(url: str, buckets: int, ids: list[str], seconds: float, out: Any, go: Any) -> None:
    store = ProgressStore(sync_client(url, cluster=True), config=StoreConfig(buckets=buckets))
    store.redis.ping()
    out.put("ready")
    go.wait()
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for tid in ids:
            store.write(tid, {"current": n, "status": "running", "soft": True})
            n += 1
    out.put(n)


def _updates(cluster: RedisCluster, *, buckets: int, processes: int, tasks: int, seconds: float) -> dict[str, float]:
    store = ProgressStore(sync_client(cluster.url, cluster=True), config=StoreConfig(buckets=buckets))
    ids = [f"u{i}" for i in range(tasks)]
    for tid in ids:
        store.create_task("bench", 10**9, task_id=tid)
        store.write(tid, {"status": "running", "start": True})
    # Spawned, not forked: a fork inherits the bench's kombu connection pools, and kombu's after-fork cleanup then
    # reads the reply of a BRPOP the parent's channel had in flight, on the shared socket: the child hung for good
    # when earlier scenarios had left such a channel (the full run never finished this scenario).
    ctx = mp.get_context("spawn")
    queue: Any = ctx.Queue()
    go: Any = ctx.Event()
    # What the nodes burn idle (cron, the cluster bus) over the same time is not the updates' cost.
    idle0 = _cpu(cluster)
    time.sleep(seconds)
    idle = _cpu(cluster) - idle0
    procs = [ctx.Process(target=_driver, args=(cluster.url, buckets, ids[p::processes], seconds, queue, go))
             for p in range(processes)]
    for p in procs:
        p.start()
    for _ in procs:
        queue.get()  # started (a spawned interpreter takes a while): the clock starts when all are
    cpu0, t0 = _cpu(cluster), time.monotonic()
    go.set()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    elapsed, cpu = time.monotonic() - t0, _cpu(cluster) - cpu0
    store.redis.close()
    busy = max(0.0, cpu - idle * elapsed / seconds)
    return {"updates_per_s": total / elapsed, "redis_cpu_us_per_update": busy / total * 1e6}


def _fill(store: ProgressStore, n: int) -> None:
    """n tasks with mixed statuses, pipelined per node (a cluster pipeline refuses EVALSHA)."""
    client: Any = store.redis
    create, update = store._scripts["create"], store._scripts["update"]
    for script in (create, update):
        client.script_load(script.script)  # on every primary
    now = store.now_ms()
    pipes: dict[str, Any] = {}
    for i in range(n):
        spec = TaskCreate(task_type=("fetch_data", "backtest")[i % 2], total_items=10,
                          symbol=("7203.T", "6758.T", None)[i % 3])
        tid = f"bench-{i:07d}"
        c = ops.create_call(store.config, store.keys, spec, tid, now + i)
        status = STATUSES[i % 5]
        u = ops.update_call(store.config, store.keys, tid, {"status": status, "current": 5}, now + i, ops.PUBLISH,
                            index_keys(prefixes_of(str(c.args[7])), "created", status))
        node = client.get_node_from_key(c.keys[0])
        pipe = pipes.get(node.name)
        if pipe is None:
            pipe = pipes[node.name] = client.get_redis_connection(node).pipeline(transaction=False)
        for script, call in ((create, c), (update, u)):
            pipe.evalsha(script.sha, len(call.keys), *call.keys, *call.args)
    for pipe in pipes.values():
        pipe.execute()


def _lists(cluster: RedisCluster, *, tasks: int, rounds: int, per_round: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for buckets in (1, 16, 64):
        cluster.flush()
        store = ProgressStore(sync_client(cluster.url, cluster=True), config=StoreConfig(buckets=buckets))
        _fill(store, tasks)
        assert store.get_tasks_list(limit=1).pagination.total == tasks

        def page(st: ProgressStore = store) -> None:
            if len(st.get_tasks_list(status="running", limit=20).tasks) != 20:
                raise AssertionError("a full page")

        s = interleaved({"page": page, "summary": store.summary}, rounds=rounds, per_round=per_round)
        out[f"page_p50_ms_b{buckets}"] = median(s["page"]) * 1000
        out[f"summary_p50_ms_b{buckets}"] = median(s["summary"]) * 1000
        store.redis.close()
    return out


def run(base_url: str, *, processes: int = 2, tasks: int = 64, seconds: float = 4.0, list_tasks: int = 10_000,
        rounds: int = 9, per_round: int = 20) -> ScenarioResult:
    """Starts a 1-primary and a 3-primary cluster of the project's redis-server (base_url is not used)."""
    del base_url
    results: dict[str, float] = {}
    for primaries in (1, 3):
        cluster = RedisCluster(Path(tempfile.mkdtemp(prefix="taskrunner-bench-cluster-")), primaries=primaries).start()
        try:
            for k, v in _updates(cluster, buckets=16, processes=processes, tasks=tasks, seconds=seconds).items():
                results[f"{k}_{primaries}p"] = v
            if primaries == 3:
                results.update(_lists(cluster, tasks=list_tasks, rounds=rounds, per_round=per_round))
        finally:
            cluster.stop()
    ratio = results["updates_per_s_3p"] / results["updates_per_s_1p"]
    return ScenarioResult(
        name="cluster_scaling",
        measured={k: v for k, v in results.items() if k.endswith("_3p") or "_b" in k},
        baseline={k: v for k, v in results.items() if k.endswith("_1p")},
        ratio=ratio,
        ratio_meaning="total updates/s with 3 primaries / with 1 primary (16 buckets, same clients)",
        target="none (reported): 2 cores shared by clients and primaries",
        met=None,
        notes=f"{processes} client processes x {seconds:g} s of store.write over {tasks} running tasks; lists: "
              f"{list_tasks} tasks, status=running page 1 of 20, {rounds} rounds of {per_round}",
    )
