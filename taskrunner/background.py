"""`taskrunner up` / `down`: the embedded Redis and one worker on every queue, left running in the background.

The worker's pid is kept in `<TASKRUNNER_HOME>/worker.pid` and its log in `<TASKRUNNER_HOME>/logs/`; Python code
and `celery` commands in the same folder find the embedded Redis through its state file (see Settings).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from taskrunner.processes import start_celery_worker
from taskrunner.redis_server import EmbeddedRedis
from taskrunner.run_logs import run_log


@dataclass(frozen=True)
class Background:
    """The background processes of one project data folder."""

    home: Path

    @property
    def pid_file(self) -> Path:
        """Where the background worker's process id is kept."""
        return self.home.resolve() / "worker.pid"

    def worker_pid(self) -> int | None:
        """The background worker's pid if it is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def start_worker(self) -> tuple[int, Path | None]:
        """Starts the worker unless one runs; its pid and its new log (None when it was already running)."""
        pid = self.worker_pid()
        if pid is not None:
            return pid, None
        log = run_log(self.home, "worker")
        # Its own session: the worker outlives this command and is stopped as a group by `down`.
        proc = start_celery_worker(name=f"up-{os.getpid()}", log=log)
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid, log

    def stop_worker(self, *, grace: float = 20.0) -> bool:
        """Stops the worker and its pool (SIGTERM, SIGKILL after `grace` s); whether one was running."""
        pid = self.worker_pid()
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        return True

    def stop_redis(self) -> bool:
        """Stops the embedded Redis; whether one was running."""
        return EmbeddedRedis(self.home).stop()


def _alive(pid: int) -> bool:
    try:
        # Reaps it when this process is its parent (tests); otherwise init does.
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
