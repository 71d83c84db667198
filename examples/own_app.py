"""Your own Celery app, with taskrunner's progress tracking in two lines (marked 1 and 2 below).

    python examples/own_app.py        # REDIS_URL's Redis, else the embedded one (started, then stopped again)

It runs one tracked task on a real worker (Celery's embedded worker, in a thread of this process; in production
`celery -A own_app worker`), follows the task's record while it runs, and exits 0 when the task completed.
Nothing else of taskrunner is needed: not its Celery app, its queues or its task families.
"""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.contrib.testing.worker import start_worker

from tracking import ProgressTask, install  # 1

app = Celery("own_app")
tracked = install(app)  # 2: this app's ProgressTasks get records in the progress store; no other app is touched


@app.task(base=ProgressTask, bind=True, name="own_app.crunch")
def crunch(self: ProgressTask, n: int) -> dict[str, int]:
    """Adds up 1..n, reporting progress as it goes (throttled: a few writes, whatever n is)."""
    total = 0
    for i in range(1, n + 1):
        total += i
        self.progress.update(i, total=n)
    return {"sum": total}


def _redis_url() -> tuple[str, bool]:
    """REDIS_URL, else the project's embedded Redis (True: started here, to be stopped at the end)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], False
    from base.settings import get_settings
    from taskrunner.redis_server import EmbeddedRedis

    url, started = EmbeddedRedis(get_settings().home).ensure()
    os.environ["REDIS_URL"] = url  # the progress store reads its location from the settings (the environment)
    get_settings.cache_clear()
    return url, started


def main() -> int:
    """Runs one tracked task and prints its record; 0 when it completed with the expected result."""
    url, started = _redis_url()
    try:
        app.conf.update(broker_url=url, result_backend=url, task_serializer="json", accept_content=["json"])
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            result = crunch.delay(n=1_000)
            value = result.get(timeout=60)
        record = tracked.store().require(result.id)
        print(record.model_dump_json(include={"task_id", "task_name", "status", "progress", "results"}, indent=2))
        ok = record.status.value == "completed" and record.results == value == {"sum": 500_500}
        return 0 if ok else 1
    finally:
        if started:
            from base.settings import get_settings
            from taskrunner.redis_server import EmbeddedRedis

            EmbeddedRedis(get_settings().home).stop()


if __name__ == "__main__":
    sys.exit(main())
