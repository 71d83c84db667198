"""Log files of the processes the command line starts, kept under the project's data folder (TASKRUNNER_HOME)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def logs_dir(home: Path) -> Path:
    """The folder of the project's process logs (created if missing)."""
    path = home.resolve() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_log(home: Path, name: str) -> Path:
    """A new, empty log file for one run of `name`: its start time in the name, never shared by two runs."""
    fd, path = tempfile.mkstemp(dir=logs_dir(home), prefix=f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-",
                                suffix=".log")
    os.close(fd)
    return Path(path)
