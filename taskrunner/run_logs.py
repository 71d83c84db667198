"""Log files of the processes the command line starts, kept under the project's data folder (TASKRUNNER_HOME)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def logs_dir(home: Path) -> Path:
    """The folder of the project's process logs (created if missing)."""
    path = home.resolve() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_log(home: Path, name: str) -> Path:
    """A new log file for one run of `name` (time and pid in its name, so two runs never share one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return logs_dir(home) / f"{name}-{stamp}-{os.getpid()}.log"
