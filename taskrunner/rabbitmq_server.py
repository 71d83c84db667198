"""A private RabbitMQ node as a real local process (tests and trying the AMQP broker), from Debian's package.

Everything is private: random free ports for AMQP, Erlang distribution and its own epmd (so no well-known port is
taken and a machine's epmd is never shared), a unique node name, data, logs, config and HOME (the Erlang cookie)
under one directory. Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user; the script beside the
package's other tools runs the node as whoever calls it. Start takes 5-20 s: start one per test session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from taskrunner.redis_server import free_port

SERVER_SCRIPTS = (Path("/usr/lib/rabbitmq/bin/rabbitmq-server"),)


def rabbitmq_server_binary() -> str | None:
    """The rabbitmq-server script that runs a node as the calling user, if the package is installed."""
    for path in SERVER_SCRIPTS:
        if path.exists():
            return str(path)
    found = shutil.which("rabbitmq-server")
    return found if found and not found.startswith("/usr/sbin/") else None


@dataclass
class RabbitServer:
    """One RabbitMQ node with its own epmd; `url` is its amqp:// location (guest over loopback)."""

    data_dir: Path
    # Above the hard time limit (3600 s), or RabbitMQ closes the channel of a worker running a long task.
    consumer_timeout_ms: int = 7_500_000
    port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Its amqp:// URL (default vhost)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, *, timeout: float = 90.0, attempts: int = 3) -> RabbitServer:
        """Starts epmd and the node and waits until AMQP accepts connections (a port picked as free can be taken
        before the node binds it: then it tries again on new ports)."""
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self, timeout: float) -> RabbitServer:
        script = rabbitmq_server_binary()
        if script is None:
            raise RuntimeError("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
        d = self.data_dir
        for sub in ("home", "mnesia", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        self.port, epmd_port, dist_port = free_port(), free_port(), free_port()
        (d / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.default = 127.0.0.1:{self.port}", "loopback_users.guest = true",
            f"consumer_timeout = {self.consumer_timeout_ms}", "log.console = false", "",
        ]))
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq-env.conf").write_text("")
        env = {
            **os.environ, "HOME": str(d / "home"), "ERL_EPMD_PORT": str(epmd_port),
            "RABBITMQ_NODENAME": f"taskrunner-{uuid.uuid4().hex[:12]}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port), "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"), "RABBITMQ_PID_FILE": str(d / "pid"),
        }
        out = (d / "server.out").open("wb")
        self.processes.append(subprocess.Popen(["epmd", "-port", str(epmd_port)], stdout=out, stderr=out, env=env,
                                               start_new_session=True))
        self.processes.append(subprocess.Popen([script], stdout=out, stderr=subprocess.STDOUT, env=env,
                                               start_new_session=True))
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self.processes[-1].poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rabbitmq-server did not start; see {d / 'server.out'} and {d / 'log'}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        """Stops the node, then its epmd (SIGKILL after 20 s)."""
        for proc in reversed(self.processes):
            if proc.poll() is not None:
                continue
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        self.processes.clear()


def _accepts(port: int) -> bool:
    """Whether something answers an AMQP protocol header on `port` (RabbitMQ replies with its own header)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            return len(s.recv(8)) > 0
    except OSError:
        return False
