"""list_scaling: a filtered page and the summary with 1,000 vs 100,000 stored tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis

from bench.common import ScenarioResult, interleaved, median
from progress import ProgressStore, TaskCreate, ops
from progress.hints import index_keys, prefixes_of

STATUSES = ("running", "completed", "completed", "error", "completed")


def _fill(store: ProgressStore, start: int, stop: int) -> None:
    """Creates tasks start..stop-1 with mixed statuses, pipelined (one round trip per 1,000 scripts)."""
    create, update = store._scripts["create"], store._scripts["update"]
    now = store.now_ms()
    for chunk in range(start, stop, 1000):
        pipe = store.redis.pipeline(transaction=False)
        for i in range(chunk, min(chunk + 1000, stop)):
            spec = TaskCreate(task_type=("fetch_data", "backtest")[i % 2], total_items=10,
                              symbol=("7203.T", "6758.T", None)[i % 3])
            tid = f"bench-{i:07d}"
            c = ops.create_call(store.config, store.keys, spec, tid, now + i)
            create(keys=c.keys, args=c.args, client=pipe)
            status = STATUSES[i % 5]
            # A move must be given its index keys (Redis Cluster: every key a script touches is declared).
            move = index_keys(prefixes_of(str(c.args[7])), "created", status)
            u = ops.update_call(store.config, store.keys, tid, {"status": status, "current": 5}, now + i,
                                ops.PUBLISH, move)
            update(keys=u.keys, args=u.args, client=pipe)
        pipe.execute()


def run(base_url: str, *, small: int = 1_000, large: int = 100_000, rounds: int = 15,
        per_round: int = 40) -> ScenarioResult:
    """Two stores side by side (1,000 tasks in db 3, 100,000 in db 5), read in alternating rounds."""
    stores = {}
    for name, db, n in (("1k", 3, small), ("100k", 5, large)):
        client = redis.Redis.from_url(f"{base_url}/{db}", decode_responses=True)
        client.flushdb()
        store = ProgressStore(client)
        _fill(store, 0, n)
        assert store.get_tasks_list(limit=1).pagination.total == n
        stores[name] = store

    def page(store: ProgressStore) -> Callable[[], None]:
        return lambda: _check(store.get_tasks_list(status="running", page=3, limit=20).tasks)

    s = interleaved({"page_1k": page(stores["1k"]), "page_100k": page(stores["100k"]),
                     "summary_1k": stores["1k"].summary, "summary_100k": stores["100k"].summary},
                    rounds=rounds, per_round=per_round)
    ms = {k: median(v) * 1000 for k, v in s.items()}
    ratio = ms["page_100k"] / ms["page_1k"]
    summary_ratio = ms["summary_100k"] / ms["summary_1k"]
    for st in stores.values():
        st.redis.flushdb()
    return ScenarioResult(
        name="list_scaling",
        measured={"page_p50_ms_100k": ms["page_100k"], "summary_p50_ms_100k": ms["summary_100k"]},
        baseline={"page_p50_ms_1k": ms["page_1k"], "summary_p50_ms_1k": ms["summary_1k"]},
        ratio=ratio,
        ratio_meaning="median time of a status-filtered page (20 records) at 100,000 tasks / at 1,000 tasks",
        target="<= 1.5x, p50 under 2 ms",
        met=ratio <= 1.5 and ms["page_100k"] < 2.0 and summary_ratio <= 1.5,
        notes=f"{rounds} alternating rounds of {per_round} reads of each store; page 3 of status=running; "
              f"summary ratio {summary_ratio:.2f}",
    )


def _check(tasks: Sequence[object]) -> None:
    if len(tasks) != 20:
        raise AssertionError("a full page of 20 records")
