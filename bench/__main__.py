"""`python -m bench [scenario ...]`: runs the scenarios, prints a table, writes bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import BenchRedis, ScenarioResult, fmt, private_redis, use_redis

SCENARIOS = ["update_cost", "hot_loop", "tracked_throughput", "enqueue", "list_scaling", "memory", "ws_fanout",
             "priority_isolation", "min_replicas", "cluster_scaling"]
RESULTS = Path(__file__).resolve().parent / "results.json"


def main() -> int:
    """Runs the chosen scenarios (all by default) against one private Redis."""
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("scenarios", nargs="*", metavar="scenario", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    args = p.parse_args()
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = args.scenarios or SCENARIOS
    results: list[ScenarioResult] = []
    with private_redis() as server:
        base = server.base_url
        print(f"on {server.describe()}", flush=True)
        use_redis(base)  # before anything imports the Celery app
        for name in args.scenarios:
            module = importlib.import_module(f"bench.{name}")
            t0 = time.monotonic()
            print(f"running {name} ...", flush=True)
            res: ScenarioResult = module.run(base)
            res.notes += f" ({time.monotonic() - t0:.0f} s)"
            results.append(res)
            _print_one(res)
    _write(results, server)
    print()
    _print_table(results, server)
    return 0


def _print_one(r: ScenarioResult) -> None:
    print(f"  {r.name}: ratio {fmt(r.ratio)} ({r.ratio_meaning}); target {r.target}; met={r.met}")
    print(f"    measured {json.dumps({k: round(v, 4) for k, v in r.measured.items()})}")
    print(f"    baseline {json.dumps({k: round(v, 4) for k, v in r.baseline.items()})}", flush=True)


def _print_table(results: list[ScenarioResult], server: BenchRedis) -> None:
    print(f"{server.describe()}\n")
    print("| scenario | ratio | met | measured | baseline |\n|---|---|---|---|---|")
    for r in results:
        m = ", ".join(f"{k} {fmt(v)}" for k, v in r.measured.items())
        b = ", ".join(f"{k} {fmt(v)}" for k, v in r.baseline.items())
        print(f"| {r.name} | {fmt(r.ratio)} | {_met(r.met)} | {m} | {b} |")


def _met(met: bool | None) -> str:
    """yes / no, or "-" for a scenario that reports figures without a target."""
    return "-" if met is None else "yes" if met else "no"


def _write(results: list[ScenarioResult], server: BenchRedis) -> None:
    """Merges these results into bench/results.json (scenarios run alone keep the others' last figures)."""
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    by_name = {s["name"]: s for s in old.get("scenarios", [])}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for r in results:
        by_name[r.name] = {**r.model_dump(), "measured_at": stamp, "redis_version": server.version,
                           "redis_binary": server.binary}
    doc = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.machine(), "cpus": __import__("os").cpu_count()},
        # The Redis of the latest run (each scenario also names the one it was measured on).
        "redis": {"redis_version": server.version, "redis_binary": server.binary},
        "scenarios": [by_name[n] for n in SCENARIOS if n in by_name],
    }
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
