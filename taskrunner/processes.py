"""Starting and stopping the project's own processes (Celery workers) for the demo, tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from base.queues import ALL_QUEUES

ROOT = Path(__file__).resolve().parent.parent


def start_celery_worker(
    *,
    queues: str = ALL_QUEUES,
    name: str = "w1",
    concurrency: int = 2,
    env: dict[str, str] | None = None,
    log: Path,
    loglevel: str = "INFO",
    extra_args: list[str] | None = None,
    timeout: float = 60.0,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    """Starts `celery -A worker worker` in its own process group and waits until it answers a ping.

    `nice` lowers the CPU priority of the whole pool (CPU-bound backtests beside latency-sensitive queues).
    """
    from worker import app

    proc = subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []),
         sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", queues, "-c", str(concurrency),
         "-n", f"{name}@%h", "--loglevel", loglevel, "--without-mingle", "--without-gossip", *(extra_args or [])],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not _answers(app, name):
        if proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited with {proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            stop_process_group(proc)
            raise RuntimeError(f"worker {name} did not answer a ping within {timeout:.0f} s; see {log}")
    return proc


def _answers(app: Any, name: str) -> bool:
    return any(name in node for reply in app.control.ping(timeout=0.5) for node in reply)


def stop_process_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, *, grace: float = 20.0) -> None:
    """Stops a process started in its own group (the worker and its pool children); SIGKILL after `grace` s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
