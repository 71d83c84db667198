"""The operators' subcommands (`show`, `logs`, `bulk`, `retry`) against the real progress Redis, in-process."""

from __future__ import annotations

import pytest
import redis

from progress import ProgressReporter, ProgressStore
from progress.tasklog import TaskLog
from taskrunner.cli import main


@pytest.fixture
def store(progress_redis: redis.Redis) -> ProgressStore:
    """The store the CLI opens (TASKRUNNER_PROGRESS_URL), cleared."""
    return ProgressStore(progress_redis)


def test_show_prints_arguments_attempts_error_children_and_log(
    store: ProgressStore, capsys: pytest.CaptureFixture[str],
) -> None:
    parent = store.create_task("batch", 2, metadata={"args": {"symbols": ["7203.T"]}}).task_id
    child = store.create_task("fetch_data", symbol="7203.T", metadata={"parent_task_id": parent}).task_id
    reporter = ProgressReporter(store, parent, interval=0)
    reporter.start(worker="w1@host")
    reporter.fail("RuntimeError: broke", details={"traceback": "Traceback (most recent call last):\n  boom"})
    TaskLog(store.redis, store.keys).append(parent, "WARNING", "disk almost full", "tasks.batch")

    assert main(["show", parent[:13]]) == 0

    out = capsys.readouterr().out
    assert f"{parent}  batch  error" in out and 'arguments: {"symbols": ["7203.T"]}' in out
    assert "error: RuntimeError: broke" in out and "Traceback (most recent call last):" in out
    assert "#1 w1@host" in out and out.count(child) == 1
    assert "WARNING tasks.batch: disk almost full" in out
    assert main(["logs", parent, "-f"]) == 0  # ended: follows no further
    assert capsys.readouterr().out.count("disk almost full") == 1


def test_bulk_counts_first_and_acts_only_when_confirmed(
    store: ProgressStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    targets = [store.create_task("backtest", symbol="7203.T").task_id for _ in range(3)]
    other = store.create_task("backtest", symbol="6758.T").task_id
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    assert main(["bulk", "cancel", "--type", "backtest", "--symbol", "7203.T", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("3 tasks match")
    assert main(["bulk", "cancel", "--type", "backtest", "--symbol", "7203.T"]) == 2
    assert "add --yes" in capsys.readouterr().err
    assert all(store.require(t).status.value == "created" for t in targets)

    assert main(["bulk", "cancel", "--type", "backtest", "--symbol", "7203.T", "--yes"]) == 0

    assert "cancel: 3 done" in capsys.readouterr().out
    assert [store.require(t).status.value for t in targets] == ["cancelled"] * 3
    assert store.require(other).status.value == "created"
    assert main(["retry", targets[0]]) == 2  # a record no task of this app ran: nothing to enqueue
    assert "not a tracked task of this app" in capsys.readouterr().err
