"""The `taskrunner` command line: up, down, demo, ls, status, watch, cancel, pause, resume, cleanup, health,
dead-letters, metrics, redis, worker, and for operators show, retry, logs, bulk (taskrunner/cli_ops.py).

Every error a user can cause (a bad option, an unknown or ambiguous id, Redis down) is one line on stderr saying
what to do, and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import redis
from kombu.exceptions import OperationalError
from kombu.utils.url import sanitize_url
from pydantic import ValidationError

from base.connections import ConnectionSettingError
from base.settings import get_settings
from progress import InvalidTransition, ProgressError, TaskNotFound, TaskStatus
from taskrunner import cli_ops
from taskrunner.cli_errors import CliError, one_line
from taskrunner.cli_ops import cancel_with_revoke
from taskrunner.connect import open_store, resolve_redis_url
from taskrunner.redis_server import EmbeddedRedis, server_identity
from taskrunner.task_ids import resolve_task_id


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_ls(args: argparse.Namespace) -> int:
    """Lists tasks (newest first) with the per-status summary."""
    from taskrunner.views import task_table

    lst = open_store().get_tasks_list(args.status, args.type, args.symbol, args.page, args.limit,
                                      task_name=args.name)
    if args.json:
        _print_json(lst.model_dump(mode="json"))
    else:
        task_table(lst)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Prints one task's record as JSON."""
    store = open_store()
    rec = store.require(resolve_task_id(store, args.task_id))
    _print_json(rec.model_dump(mode="json"))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Shows a live progress bar until the task ends."""
    from taskrunner.views import watch_bars

    store = open_store()
    task_id = resolve_task_id(store, args.task_id)
    final = watch_bars(store, [task_id])
    return 0 if final[task_id].status.value == "completed" else 1


def _control(args: argparse.Namespace, action: str) -> int:
    store = open_store()
    task_id = resolve_task_id(store, args.task_id)
    try:
        # A cancel takes the task's children with it and revokes queued messages, so no worker spends time on them.
        res = cancel_with_revoke(store, task_id) if action == "cancel" else getattr(store, f"{action}_task")(task_id)
    except InvalidTransition as exc:
        raise CliError(f"{exc}; see its state with `taskrunner status {task_id}`", code=2) from None
    if not res.applied:
        print(f"task {task_id} has already ended ({res.status.value})", file=sys.stderr)
        return 1
    print(f"{task_id}: {res.status.value}")
    return 0


def cmd_cleanup(_: argparse.Namespace) -> int:
    """Removes ended records past the retention period."""
    print(f"removed {open_store().cleanup()} records")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Prints the health document; exit 1 when unhealthy."""
    from ops.health import health_command

    resolve_redis_url()
    return health_command(list(args.rest))


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """Lists the newest dead letters: messages the workers could not run, with the reason and the raw body."""
    from tracking.dead_letters import configured_dead_letters

    letters = configured_dead_letters(open_store().redis)
    held, latest = letters.count(), letters.latest(args.limit)
    if args.json:
        _print_json({"count": held, "dead_letters": [d.model_dump(mode="json") for d in latest]})
        return 0
    print(f"{held} dead letters held" + (f" (newest {len(latest)} shown)" if len(latest) < held else ""))
    for d in latest:
        raw = d.raw if len(d.raw) <= 80 else d.raw[:77] + "..."
        print(f"{d.at.isoformat(timespec='seconds')}  {d.source:<13} {d.queue or '-':<13} {d.task_id or '-':<36}  "
              f"{d.reason}\n    raw ({d.raw_chars} chars): {raw!r}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """Prints the latest system-metrics samples."""
    from ops.metrics import metrics_command

    resolve_redis_url()
    return metrics_command(list(args.rest))


def cmd_redis(args: argparse.Namespace) -> int:
    """Starts, stops or shows the embedded Redis (its URL on stdout; its version and binary on stderr)."""
    emb = EmbeddedRedis(get_settings().home)
    if args.action == "stop":
        print("stopped" if emb.stop() else "not running")
        return 0
    if args.action == "start":
        url, _ = emb.ensure()
        print(url)
        print(server_identity(url), file=sys.stderr)
        return 0
    running = emb.running_url()
    print(running or "not running")
    if running:
        print(server_identity(running), file=sys.stderr)
    return 0 if running else 1


def cmd_up(_: argparse.Namespace) -> int:
    """Starts the embedded Redis (unless REDIS_URL is set) and a worker on every queue, in the background."""
    from taskrunner.background import Background

    url = resolve_redis_url()
    print(f"redis: {url} — {server_identity(url)}")
    pid, log = Background(get_settings().home).start_worker()
    print(f"worker: pid {pid}, " + (f"log {log}" if log else "already running"))
    print("ready: Python code and `celery` in this folder use this Redis; `taskrunner down` stops both")
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    """Stops what `taskrunner up` started: the background worker, then the embedded Redis."""
    from taskrunner.background import Background

    bg = Background(get_settings().home)
    print("worker: " + ("stopped" if bg.stop_worker() else "not running"))
    print("redis: " + ("stopped" if bg.stop_redis() else "not running (embedded)"))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Runs `celery -A worker worker ...` against the resolved Redis."""
    resolve_redis_url()
    argv = [sys.executable, "-m", "celery", "-A", "worker", "worker", *args.rest]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def cmd_demo(args: argparse.Namespace) -> int:
    """Runs the demo: Redis, a worker, real jobs on every queue, live bars, results."""
    from taskrunner.demo import run_demo

    return run_demo(keep_redis=args.keep_redis)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line saying what to do (not a usage block)."""

    def error(self, message: str) -> NoReturn:
        """Prints the error and where to look, in one line; exits 2."""
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: pages and limits start at 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = _Parser(prog="taskrunner", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("up", help="start the embedded Redis and a worker in the background").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)

    d = sub.add_parser("demo", help="run the demo on the embedded Redis")
    d.add_argument("--keep-redis", action="store_true", help="leave the embedded Redis running afterwards")
    d.set_defaults(func=cmd_demo)

    ls = sub.add_parser("ls", help="list tasks")
    ls.add_argument("--status", choices=[s.value for s in TaskStatus])
    ls.add_argument("--type", help="short task type, e.g. fetch_data")
    ls.add_argument("--name", help="full Celery task name, e.g. tasks.market_data.fetch_data")
    ls.add_argument("--symbol")
    ls.add_argument("--page", type=_positive, default=1)
    ls.add_argument("--limit", type=_positive, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_ls)

    id_help = "the task id or a unique prefix of it"
    for name, func, text in (("status", cmd_status, "print a task's record"), ("watch", cmd_watch, "live bar")):
        s = sub.add_parser(name, help=text)
        s.add_argument("task_id", help=id_help)
        s.set_defaults(func=func)
    for action in ("cancel", "pause", "resume"):
        s = sub.add_parser(action, help=f"{action} a task")
        s.add_argument("task_id", help=id_help)
        s.set_defaults(func=lambda a, _act=action: _control(a, _act))

    sub.add_parser("cleanup", help="remove expired records").set_defaults(func=cmd_cleanup)
    for name, func, text in (("health", cmd_health, "health document; exit 1 when unhealthy"),
                             ("metrics", cmd_metrics, "latest system-metrics samples")):
        h = sub.add_parser(name, help=text, add_help=False)  # its own options are parsed by the command itself
        h.add_argument("rest", nargs=argparse.REMAINDER)
        h.set_defaults(func=func)
    dl = sub.add_parser("dead-letters", help="messages the workers could not run (newest first)")
    dl.add_argument("--limit", type=int, default=20, help="entries to show (default 20)")
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(func=cmd_dead_letters)
    r = sub.add_parser("redis", help="the embedded Redis")
    r.add_argument("action", choices=["start", "stop", "url"])
    r.set_defaults(func=cmd_redis)
    w = sub.add_parser("worker", help="celery worker on the resolved Redis (arguments pass through)")
    w.add_argument("rest", nargs=argparse.REMAINDER)
    w.set_defaults(func=cmd_worker)
    cli_ops.register(sub, open_store)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `taskrunner` console script."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown and args.command not in ("health", "metrics", "worker"):
        build_parser().error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:
        args.rest = [*unknown, *args.rest]
    try:
        code: int = args.func(args)
    except ConnectionSettingError as exc:
        print(f"taskrunner: {exc}", file=sys.stderr)  # one line naming the setting, not a traceback
        return 2
    except CliError as exc:
        print(f"taskrunner: {exc}", file=sys.stderr)
        return exc.code
    except TaskNotFound as exc:
        print(f"taskrunner: {exc}: list tasks with `taskrunner ls`", file=sys.stderr)
        return 2
    except (redis.ConnectionError, redis.TimeoutError, OperationalError) as exc:
        url = os.environ.get("REDIS_URL")
        where = sanitize_url(url) if url else "the embedded Redis"  # never a password on the terminal
        print(f"taskrunner: cannot reach Redis ({where}): {one_line(exc)}; start it with `taskrunner up` "
              "or point REDIS_URL at a running one", file=sys.stderr)
        return 3
    except (ProgressError, ValidationError, ValueError, redis.RedisError, RuntimeError, OSError) as exc:
        print(f"taskrunner: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
