"""Two real `celery -A worker beat` processes against one Redis: every job fires once per period, and the standby
takes over when the active Beat stops.

The Beats publish to a broker database no worker reads (db 5), so every message they sent is still there to count.
Each periodic message expires one period after it was sent (beat_schedule.py), which gives its send time.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from beat_schedule import JOBS
from ops.broker_view import BrokerView
from tests.conftest import ROOT
from tests.helpers import wait_until
from worker import app

pytestmark = pytest.mark.integration

PERIODS = {job["task"]: job["fast_every_s"] for job in JOBS.values()}
QUEUES = sorted({job["queue"] for job in JOBS.values()})


class Beat:
    """One Beat process and its log."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.log = Path(tempfile.gettempdir()) / f"taskrunner-beat-{name}-{os.getpid()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "worker", "beat", "-n", f"{name}@%h", "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def holds_lock(self) -> bool:
        """Whether this Beat acquired the schedule lock (redbeat logs it)."""
        return "beat: Acquired lock" in self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops it (SIGKILL after 15 s)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def beat_env(redis_base: str) -> Iterator[dict[str, str]]:
    """Environment of Beats in fast mode on their own broker db, emptied first."""
    broker = f"{redis_base}/5"
    redis.Redis.from_url(broker).flushdb()
    yield {
        **os.environ,
        "REDIS_URL": broker,
        "TASKRUNNER_PROGRESS_URL": f"{redis_base}/6",
        "TASKRUNNER_BEAT_FAST": "1",
        "TASKRUNNER_BEAT_MAX_INTERVAL_S": "0.25",
        "TASKRUNNER_BEAT_LOCK_TIMEOUT_S": "3",
    }


def _fires(broker_url: str) -> dict[str, list[datetime]]:
    """Task name -> send times of every message the Beats published, in order."""
    client = redis.Redis.from_url(broker_url)
    out: dict[str, list[datetime]] = defaultdict(list)
    with BrokerView.open(app) as view:  # only for kombu's list names
        names = [n for q in QUEUES for n in view.queue_lists(q)]
    for name in names:
        for raw in client.lrange(name, 0, -1):
            headers = json.loads(raw)["headers"]
            task = headers["task"]
            out[task].append(datetime.fromisoformat(headers["expires"]) - timedelta(seconds=PERIODS[task]))
    return {task: sorted(times) for task, times in out.items()}


def _each_fired(broker_url: str, times: int) -> bool:
    fires = _fires(broker_url)
    return all(len(fires.get(task, [])) >= times for task in PERIODS)


@pytest.mark.chaos  # kills processes: in `make chaos`, run by CI after `make test`
def test_two_beats_fire_each_job_once_per_period_and_the_standby_takes_over(beat_env: dict[str, str]) -> None:
    broker = beat_env["REDIS_URL"]
    beats = [Beat("beat_one", beat_env), Beat("beat_two", beat_env)]
    try:
        wait_until(lambda: _each_fired(broker, 3), timeout=60, interval=0.2, what="every job to fire 3 times")
        assert all(b.proc.poll() is None for b in beats), "both Beats must still run (one waits as a standby)"
        active = [b for b in beats if b.holds_lock()]
        assert len(active) == 1, "exactly one Beat holds the schedule lock"
        standby = next(b for b in beats if b is not active[0])
        before = {task: len(times) for task, times in _fires(broker).items()}

        # The active Beat stops: the standby acquires the lock and the schedule goes on from the stored last run.
        active[0].stop()
        wait_until(standby.holds_lock, timeout=30, what="the standby Beat to acquire the lock")
        wait_until(lambda: all(len(_fires(broker).get(t, [])) >= before[t] + 2 for t in PERIODS), timeout=60,
                   interval=0.2, what="every job to fire twice more after the take-over")
    finally:
        for b in beats:
            b.stop()

    for task, times in _fires(broker).items():
        period = PERIODS[task]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        # A job fired twice in one period (two Beats, or a restart) shows as a gap shorter than the period.
        assert min(gaps) >= period * 0.95, f"{task} fired twice within one {period}s period: gaps {gaps}"
