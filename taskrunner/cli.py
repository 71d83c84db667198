"""The `taskrunner` command line: demo, ls, status, watch, cancel, pause, resume, cleanup, health, redis, worker."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from progress import InvalidTransition, ProgressStore, TaskNotFound
from taskrunner.connections import ConnectionSettingError, location, progress_client, require_reachable
from taskrunner.redis_server import EmbeddedRedis
from taskrunner.settings import get_settings


def resolve_redis_url() -> str:
    """REDIS_URL when set; otherwise the embedded Redis, started if needed (and exported to child processes)."""
    settings = get_settings()
    if settings.redis_url:
        return settings.redis_url
    url, started = EmbeddedRedis(settings.home).ensure()
    if started:
        print(f"started embedded Redis at {url} (stop it with `taskrunner redis stop`)", file=sys.stderr)
    os.environ["REDIS_URL"] = url
    get_settings.cache_clear()
    return url


def open_store() -> ProgressStore:
    """The progress store on the resolved Redis (ConnectionSettingError when it is malformed or does not answer)."""
    resolve_redis_url()
    settings = get_settings()
    client = progress_client(settings)
    require_reachable(location(settings, "progress"), client)
    return ProgressStore(client, config=settings.store_config())


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_ls(args: argparse.Namespace) -> int:
    """Lists tasks (newest first) with the per-status summary."""
    from taskrunner.views import task_table

    lst = open_store().get_tasks_list(args.status, args.type, args.symbol, args.page, args.limit)
    if args.json:
        _print_json(lst.model_dump(mode="json"))
    else:
        task_table(lst)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Prints one task's record as JSON."""
    rec = open_store().get_task_status(args.task_id)
    if rec is None:
        print(f"task {args.task_id} not found", file=sys.stderr)
        return 2
    _print_json(rec.model_dump(mode="json"))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Shows a live progress bar until the task ends."""
    from taskrunner.views import watch_bars

    store = open_store()
    try:
        store.require(args.task_id)
    except TaskNotFound as exc:
        print(exc, file=sys.stderr)
        return 2
    final = watch_bars(store, [args.task_id])
    return 0 if final[args.task_id].status.value == "completed" else 1


def _control(args: argparse.Namespace, action: str) -> int:
    store = open_store()
    try:
        res = getattr(store, f"{action}_task")(args.task_id)
    except (TaskNotFound, InvalidTransition) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not res.applied:
        print(f"task {args.task_id} has already ended ({res.status.value})", file=sys.stderr)
        return 1
    if action == "cancel":
        # A queued message is also revoked, so no worker spends time on it.
        from worker import app

        app.control.revoke(args.task_id)
    print(f"{args.task_id}: {res.status.value}")
    return 0


def cmd_cleanup(_: argparse.Namespace) -> int:
    """Removes ended records past the retention period."""
    print(f"removed {open_store().cleanup()} records")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Prints the health document; exit 1 when unhealthy."""
    from taskrunner.ops_health import health_command

    resolve_redis_url()
    return health_command(list(args.rest))


def cmd_metrics(args: argparse.Namespace) -> int:
    """Prints the latest system-metrics samples."""
    from taskrunner.metrics import metrics_command

    resolve_redis_url()
    return metrics_command(list(args.rest))


def cmd_redis(args: argparse.Namespace) -> int:
    """Starts, stops or shows the embedded Redis."""
    emb = EmbeddedRedis(get_settings().home)
    if args.action == "stop":
        print("stopped" if emb.stop() else "not running")
        return 0
    if args.action == "start":
        url, _ = emb.ensure()
        print(url)
        return 0
    running = emb.running_url()
    print(running or "not running")
    return 0 if running else 1


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="taskrunner", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the demo on the embedded Redis")
    d.add_argument("--keep-redis", action="store_true", help="leave the embedded Redis running afterwards")
    d.set_defaults(func=cmd_demo)

    ls = sub.add_parser("ls", help="list tasks")
    ls.add_argument("--status")
    ls.add_argument("--type")
    ls.add_argument("--symbol")
    ls.add_argument("--page", type=int, default=1)
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_ls)

    for name, func, text in (("status", cmd_status, "print a task's record"), ("watch", cmd_watch, "live bar")):
        s = sub.add_parser(name, help=text)
        s.add_argument("task_id")
        s.set_defaults(func=func)
    for action in ("cancel", "pause", "resume"):
        s = sub.add_parser(action, help=f"{action} a task")
        s.add_argument("task_id")
        s.set_defaults(func=lambda a, _act=action: _control(a, _act))

    sub.add_parser("cleanup", help="remove expired records").set_defaults(func=cmd_cleanup)
    for name, func, text in (("health", cmd_health, "health document; exit 1 when unhealthy"),
                             ("metrics", cmd_metrics, "latest system-metrics samples")):
        h = sub.add_parser(name, help=text, add_help=False)  # its own options are parsed by the command itself
        h.add_argument("rest", nargs=argparse.REMAINDER)
        h.set_defaults(func=func)
    r = sub.add_parser("redis", help="the embedded Redis")
    r.add_argument("action", choices=["start", "stop", "url"])
    r.set_defaults(func=cmd_redis)
    w = sub.add_parser("worker", help="celery worker on the resolved Redis (arguments pass through)")
    w.add_argument("rest", nargs=argparse.REMAINDER)
    w.set_defaults(func=cmd_worker)
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
    return code


if __name__ == "__main__":
    raise SystemExit(main())
