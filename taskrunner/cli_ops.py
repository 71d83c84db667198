"""The operators' subcommands: `show ID`, `retry ID`, `logs ID [-f]` and `bulk cancel|retry|delete` by filter."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from base.settings import get_settings
from progress import ProgressStore, TaskStatus
from progress.cascade import cancel_tree
from progress.detail import TaskDetail, task_detail
from progress.search import APPLIES_TO, TaskQuery, matching_ids
from progress.tasklog import LogLine, TaskLog
from taskrunner.cli_errors import CliError
from taskrunner.task_ids import resolve_task_id

Opener = Callable[[], ProgressStore]


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def print_detail(d: TaskDetail) -> None:
    """The detail as text: one section per part, each line short enough for a terminal."""
    t = d.task
    print(f"{t.task_id}  {t.task_name or t.task_type}  {t.status.value}  {t.progress.percentage:g}% "
          f"({t.progress.current}/{t.progress.total})  {t.current_status}")
    print(f"created {_when(t.created_at)}  started {_when(t.start_time)}  ended {_when(t.end_time)}"
          + (f"  owner {d.owner}" if d.owner else ""))
    for label, value in (("retry of", d.retry_of), ("retried as", d.retried_as), ("parent", d.parent_task_id)):
        if value:
            print(f"{label}: {value}")
    print("arguments: " + (json.dumps(d.arguments, ensure_ascii=False) if d.arguments is not None else "not recorded"))
    if t.results:
        print("results: " + json.dumps(t.results, ensure_ascii=False, default=str))
    if d.error:
        print(f"error: {d.error.message or d.error.last_error}")
        if d.error.traceback:
            print(d.error.traceback.rstrip())
    if d.attempts:
        print("attempts:")
        for a in d.attempts:
            print(f"  #{a.attempt} {a.worker or '?'}  {_when(a.started_at)} -> {_when(a.ended_at)}  "
                  f"{a.outcome or 'running'}" + (f"  {a.error}" if a.error else ""))
    if d.steps:
        print("steps: " + ", ".join(f"{s.name} {s.status} {s.elapsed_ms / 1000:.1f}s" for s in d.steps))
    if d.children:
        print(f"children ({len(d.children)}):")
        for c in d.children:
            print(f"  {c.task_id}  {c.task_name or c.task_type}  {c.symbol or '-'}  {c.status.value}  "
                  f"{c.progress.percentage:g}%")
    if d.timeline:
        print("timeline:")
        for e in d.timeline:
            print(f"  {_when(e.timestamp)}  {e.kind:<8} {e.status.value:<9} {e.current}/{e.total}  "
                  f"{e.step or ''} {e.message or ''}".rstrip())
    if d.logs:
        print(f"log (last {len(d.logs)} lines; `taskrunner logs {t.task_id}`):")
        for line in d.logs:
            print_line(line)


def print_line(line: LogLine) -> None:
    """One log line as text."""
    print(f"{line.timestamp.isoformat(timespec='milliseconds')} {line.level:<7} {line.logger}: {line.message}")


def cmd_show(open_store: Opener, args: argparse.Namespace) -> int:
    """Prints a task's detail."""
    store = open_store()
    detail = task_detail(store, resolve_task_id(store, args.task_id))
    if args.json:
        _print_json(detail.model_dump(mode="json"))
    else:
        print_detail(detail)
    return 0


def cmd_retry(open_store: Opener, args: argparse.Namespace) -> int:
    """Enqueues an ended task again with its recorded arguments."""
    from worker import app
    from worker.retry import RetryRefused, retry_task

    store = open_store()
    task_id = resolve_task_id(store, args.task_id)
    try:
        new_id = retry_task(store, app, task_id)
    except RetryRefused as exc:
        raise CliError(str(exc), code=2) from None
    print(f"{new_id}: queued (retry of {task_id})")
    return 0


def cmd_logs(open_store: Opener, args: argparse.Namespace) -> int:
    """Prints a task's log; with -f, follows it until the task ends."""
    store = open_store()
    task_id = resolve_task_id(store, args.task_id)
    settings = get_settings()
    log = TaskLog(store.redis, store.keys, maxlen=settings.task_log_max_lines, ttl_s=settings.task_log_ttl_s,
                  tz=store.config.tz)
    if not args.follow:
        for line in log.read(task_id):
            print_line(line)
        return 0

    def ended() -> bool:
        record = store.get_task_status(task_id)
        return record is None or record.status.is_terminal

    for line in log.follow(task_id, done=ended):
        print_line(line)
        sys.stdout.flush()
    return 0


def _query(args: argparse.Namespace) -> TaskQuery:
    return TaskQuery(status=args.status, task_type=args.type, symbol=args.symbol, task_name=args.name,
                     user=args.user, parent=args.parent, created_from=args.created_from, created_to=args.created_to)


def cmd_bulk(open_store: Opener, args: argparse.Namespace) -> int:
    """Counts the tasks a bulk action matches, then (with --yes, or a yes at the prompt) acts on them."""
    store = open_store()
    ids = matching_ids(store, _query(args), APPLIES_TO[args.action], args.max)
    print(f"{len(ids)} tasks match: {args.action} applies to {', '.join(s.value for s in APPLIES_TO[args.action])}")
    if args.dry_run or not ids:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"not done: add --yes to {args.action} these {len(ids)} tasks", code=2)
        if input(f"{args.action} {len(ids)} tasks? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing done")
            return 1
    done, failed = bulk_apply(store, args.action, ids)
    print(f"{args.action}: {done} done" + (f", {len(failed)} not done" if failed else ""))
    for tid, why in failed.items():
        print(f"  {tid}: {why}", file=sys.stderr)
    return 0 if not failed else 1


def bulk_apply(store: ProgressStore, action: str, ids: list[str]) -> tuple[int, dict[str, str]]:
    """Applies a bulk action to each task; how many were done and why the others were not."""
    from worker import app
    from worker.retry import RetryRefused, retry_task

    done, failed = 0, {}
    log = TaskLog(store.redis, store.keys)
    for tid in ids:
        try:
            if action == "retry":
                retry_task(store, app, tid)
                ok = True
            elif action == "cancel":
                ok = cancel_with_revoke(store, tid).applied
            else:
                record = store.get_task_status(tid)
                ok = record is not None and record.status.is_terminal and store.delete_task(tid)
                if ok:
                    log.delete([tid])
        except RetryRefused as exc:
            failed[tid] = str(exc)
            continue
        if ok:
            done += 1
        else:
            failed[tid] = "already changed"
    return done, failed


def cancel_with_revoke(store: ProgressStore, task_id: str) -> Any:
    """Cancels a task and its children (progress.cascade), revoking every queued message so no worker takes it."""
    from worker import app

    def revoke(child_id: str) -> None:
        app.control.revoke(child_id)

    cascade = cancel_tree(store, task_id, on_cancelled=revoke)
    app.control.revoke(task_id)
    return cascade.result


def _local_time(text: str) -> datetime:
    """An ISO 8601 time as typed at a terminal: without an offset it is this machine's local time."""
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time like 2026-11-30T09:00") from None


def register(sub: Any, open_store: Opener) -> None:
    """Adds the operators' subcommands to the `taskrunner` parser."""
    id_help = "the task id or a unique prefix of it"
    s = sub.add_parser("show", help="a task's detail: arguments, error, attempts, children, timeline, log")
    s.add_argument("task_id", help=id_help)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=lambda a: cmd_show(open_store, a))
    r = sub.add_parser("retry", help="enqueue an ended (error or cancelled) task again with its arguments")
    r.add_argument("task_id", help=id_help)
    r.set_defaults(func=lambda a: cmd_retry(open_store, a))
    lg = sub.add_parser("logs", help="a task's log (-f: follow it until the task ends)")
    lg.add_argument("task_id", help=id_help)
    lg.add_argument("-f", "--follow", action="store_true")
    lg.set_defaults(func=lambda a: cmd_logs(open_store, a))
    b = sub.add_parser("bulk", help="cancel, retry or delete every task matching a filter (counts first)")
    b.add_argument("action", choices=sorted(APPLIES_TO))
    b.add_argument("--status", choices=[s.value for s in TaskStatus])
    b.add_argument("--type", help="short task type, e.g. fetch_data")
    b.add_argument("--name", help="full Celery task name")
    b.add_argument("--symbol")
    b.add_argument("--user", help="owner (metadata.user_id)")
    b.add_argument("--parent", help="children of this batch")
    b.add_argument("--from", dest="created_from", type=_local_time, help="created at or after (ISO 8601; no offset: "
                   "this machine's time zone)")
    b.add_argument("--to", dest="created_to", type=_local_time, help="created at or before (ISO 8601)")
    b.add_argument("--max", type=int, default=1000, help="act on at most this many tasks (default 1000)")
    b.add_argument("--dry-run", action="store_true", help="only count")
    b.add_argument("--yes", action="store_true", help="act without asking")
    b.set_defaults(func=lambda a: cmd_bulk(open_store, a))
