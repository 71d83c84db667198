"""A password-protected Redis (requirepass, as docker-compose runs it): the progress store, the Celery config, a real
worker and `taskrunner health` all work with the password in REDIS_URL; without it they are refused saying why; and
no password (Redis's, SMTP's, or a task argument named like one) reaches the worker's log, the health output or a
progress record."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from celery import Celery

from base.queues import ALL_QUEUES
from base.settings import Settings
from progress import ProgressStore, TaskStatus
from taskrunner.processes import ROOT, stop_process_group
from taskrunner.redis_server import RedisServer, free_port
from tests.helpers import wait_until
from worker.config import celery_config

REDIS_PASSWORD = "redis-pw-" + secrets.token_hex(8)
SMTP_PASSWORD = "smtp-pw-" + secrets.token_hex(8)
KWARG_SECRET = "kwarg-pw-" + secrets.token_hex(8)
SECRETS = (REDIS_PASSWORD, SMTP_PASSWORD, KWARG_SECRET)


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis that requires a password; yields redis://host:port (no password, no database)."""
    server = RedisServer(tmp_path_factory.mktemp("locked-redis")).start()
    redis.Redis(port=server.port).config_set("requirepass", REDIS_PASSWORD)
    yield f"redis://127.0.0.1:{server.port}"
    server.stop()


def _with_password(base: str, db: int, password: str = REDIS_PASSWORD) -> str:
    return base.replace("redis://", f"redis://:{password}@") + f"/{db}"


class Logins:
    """An SMTP authenticator that records the passwords it is offered and accepts none (535)."""

    def __init__(self) -> None:
        self.passwords: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.passwords.append(auth_data.password.decode())
        return AuthResult(success=False, handled=False)


class NoMail:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 not expected"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, Logins]]:
    """An SMTP server offering AUTH without TLS; its port and what logins it saw."""
    logins = Logins()
    controller = Controller(NoMail(), hostname="127.0.0.1", port=free_port(), authenticator=logins,
                            auth_require_tls=False)
    controller.start()
    yield controller.port, logins
    controller.stop()


@dataclass
class LockedWorker:
    """A real worker on the password-protected Redis."""

    proc: subprocess.Popen[bytes]
    app: Celery
    store: ProgressStore
    log: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def worker(locked: str, smtp: tuple[int, Logins], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockedWorker]:
    """`celery -A worker worker` with REDIS_URL carrying the password and an SMTP login configured."""
    env = {**os.environ, "REDIS_URL": _with_password(locked, 1), "TASKRUNNER_PROGRESS_URL": _with_password(locked, 2),
           "TASKRUNNER_SMTP_HOST": "127.0.0.1", "TASKRUNNER_SMTP_PORT": str(smtp[0]),
           "TASKRUNNER_SMTP_STARTTLS": "false", "TASKRUNNER_SMTP_USERNAME": "mailer",
           "TASKRUNNER_SMTP_PASSWORD": SMTP_PASSWORD}
    app = Celery("locked-client")
    app.config_from_object(celery_config(Settings(REDIS_URL=env["REDIS_URL"])))
    log = tmp_path_factory.mktemp("locked-worker") / "worker.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", ALL_QUEUES, "-c", "1", "-n", "locked@%h",
             "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until(lambda: proc.poll() is not None or any("locked@" in node for reply in app.control.ping(timeout=0.5)
                                                           for node in reply), timeout=60, what="the locked worker")
        assert proc.poll() is None, log.read_text()
        store = ProgressStore.from_url(env["TASKRUNNER_PROGRESS_URL"])
        yield LockedWorker(proc, app, store, log, env)
    finally:
        stop_process_group(proc)


def test_the_store_and_the_celery_config_work_with_the_password_and_are_refused_without(locked: str) -> None:
    # With the password in the URL, the store works
    store = ProgressStore.from_url(_with_password(locked, 0))
    tid = store.create_task("locked_probe", 1).task_id
    assert store.require(tid).status is TaskStatus.CREATED and store.health_check().status == "healthy"
    # Without it, or with a wrong one, Redis refuses and says why; the health document says unhealthy
    for url in (f"{locked}/0", _with_password(locked, 0, "wrong-password")):
        other = ProgressStore.from_url(url)
        with pytest.raises(redis.AuthenticationError) as refused:
            other.create_task("locked_probe")
        assert "authenticat" in str(refused.value).lower() or "password" in str(refused.value).lower()
        assert other.health_check().status == "unhealthy"

    # The Celery config carries the URL to broker and backend, which both connect; what Celery shows is masked
    cfg = celery_config(Settings(REDIS_URL=_with_password(locked, 1)))
    assert cfg["broker_url"] == cfg["result_backend"] == _with_password(locked, 1)
    app = Celery("locked-probe")
    app.config_from_object(cfg)
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert REDIS_PASSWORD not in conn.as_uri()
    assert app.backend.client.ping() is True
    shown = app.conf.table(censored=True)
    assert {k: str(shown[k]) for k in ("broker_url", "result_backend")} == {
        k: cfg[k].replace(REDIS_PASSWORD, "********") for k in ("broker_url", "result_backend")}


def test_the_censored_config_that_workers_report_holds_no_password(locked: str) -> None:
    app = Celery("locked-conf")
    app.config_from_object(celery_config(Settings(REDIS_URL=_with_password(locked, 1))))
    assert REDIS_PASSWORD not in json.dumps(app.conf.table(censored=True), default=str)


def test_a_worker_on_the_locked_redis_runs_tasks_and_its_records_hold_no_secret(
    worker: LockedWorker, smtp: tuple[int, Logins], locked: str
) -> None:
    # A plain task completes
    assert worker.app.send_task("tasks.diagnostics.count", kwargs={"n": 4}).get(timeout=30)["counted"] == 4

    # An email with the SMTP login configured fails on the refused login: the server was offered the password...
    mail = worker.app.send_task("tasks.notifications.send_email_notification",
                                kwargs={"to": "ops@example.jp", "subject": "s", "body": "b"})
    wait_until(mail.ready, timeout=30, what="the email task")
    assert set(smtp[1].passwords) == {SMTP_PASSWORD}  # smtplib tries each mechanism the server offers
    # ...and an argument named like a secret is refused by name
    bad = worker.app.send_task("tasks.diagnostics.count", kwargs={"n": 1, "password": KWARG_SECRET})
    wait_until(bad.ready, timeout=30, what="the refused task")

    failed = worker.store.require(mail.id)
    assert failed.status is TaskStatus.ERROR and "535" in (failed.error_message or "")
    refused = worker.store.require(bad.id)
    assert refused.status is TaskStatus.ERROR
    assert [e["field"] for e in refused.processing_details["validation_errors"]] == ["password"]
    # Then no record, nor anything else in the broker, results or progress databases, holds a password; the
    # argument's value is only in Celery's own result meta (result_extended keeps a task's kwargs there)
    for db in (1, 2):
        raw = redis.Redis.from_url(_with_password(locked, db), decode_responses=True)
        for key in raw.scan_iter("*"):
            dumped = json.dumps(_dump(raw, key), ensure_ascii=False, default=str)
            assert REDIS_PASSWORD not in dumped and SMTP_PASSWORD not in dumped, key
            assert KWARG_SECRET not in dumped or key.startswith("celery-task-meta-"), key
        raw.close()


def _dump(raw: redis.Redis, key: str) -> Any:
    kind = raw.type(key)
    readers: dict[str, Any] = {"hash": raw.hgetall, "stream": raw.xrange, "string": raw.get, "set": raw.smembers,
                               "list": lambda k: raw.lrange(k, 0, -1), "zset": lambda k: raw.zrange(k, 0, -1)}
    return readers[kind](key) if kind in readers else kind


def test_taskrunner_health_works_with_the_password_and_never_prints_it(worker: LockedWorker, locked: str) -> None:
    def health(url: str) -> subprocess.CompletedProcess[str]:
        env = {**worker.env, "REDIS_URL": _with_password(locked, 1, url),
               "TASKRUNNER_PROGRESS_URL": _with_password(locked, 2, url)}
        return subprocess.run([sys.executable, "-m", "taskrunner.cli", "health", "--timeout", "5"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    good = health(REDIS_PASSWORD)
    assert good.returncode == 0, good.stdout + good.stderr
    doc = json.loads(good.stdout)
    assert doc["status"] == "healthy" and all(q["status"] == "ok" for q in doc["queues"].values())
    wrong = health("wrong-" + REDIS_PASSWORD)
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["status"] == "unhealthy"
    for out in (good.stdout + good.stderr, wrong.stdout + wrong.stderr):
        assert REDIS_PASSWORD not in out


def test_the_worker_log_names_its_work_but_no_secret(worker: LockedWorker) -> None:
    stop_process_group(worker.proc)  # flushes and closes the log
    log = worker.log.read_text()
    # The log is the right one and has content: the startup banner with the masked URLs, and the tasks run
    assert "locked@" in log and "redis://:**@127.0.0.1" in log
    assert "tasks.notifications.send_email_notification" in log and "tasks.diagnostics.count" in log
    for secret in SECRETS:
        assert secret not in log, f"a secret is in {worker.log}"
