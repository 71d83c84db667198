"""docker-compose.yml and the Dockerfile, checked without Docker: real modules and queues, one Beat, healthchecks,
secrets only from the environment."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from base.queues import QUEUE_NAMES

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH", re.IGNORECASE)
INTERPOLATED = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$")
# Servers, not the app: the default Redis and the opt-in profiles' Redis primary, replica, sentinels and RabbitMQ.
INFRA = {"redis", "redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "rabbitmq"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _option(command: list[str], *names: str) -> str | None:
    """The value of a command-line option given as `-Q x`, `--queues x` or `--queues=x`."""
    for i, token in enumerate(command):
        for name in names:
            if token == name and i + 1 < len(command):
                return command[i + 1]
            if token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _role(command: list[str]) -> str:
    """worker | beat | flower | api, from the command."""
    if command[0] == "uvicorn":
        return "api"
    assert command[:3] == ["celery", "-A", "worker"], command
    return command[3]


def test_every_command_names_a_real_module(compose: dict[str, Any]) -> None:
    from worker import app

    for name, svc in _services(compose).items():
        if name in INFRA:
            continue
        command = svc["command"]
        if _role(command) == "api":
            module, _, attribute = command[1].partition(":")
            assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
            assert attribute, f"{name}: uvicorn needs module:attribute"
        else:
            assert importlib.util.find_spec("worker") is not None and app.main == "taskrunner"
            assert _role(command) in {"worker", "beat", "flower"}, f"{name}: unknown celery command {command[3]}"


def test_each_queue_has_exactly_one_worker_service_with_its_own_pool(compose: dict[str, Any]) -> None:
    consumed: dict[str, list[str]] = {}
    for name, svc in _services(compose).items():
        command = svc.get("command") or []
        if name in INFRA or _role(command) != "worker":
            continue
        queues = (_option(command, "-Q", "--queues") or "").split(",")
        assert all(q in QUEUE_NAMES for q in queues), f"{name} consumes an unknown queue: {queues}"
        assert len(queues) == 1, f"{name} must consume one queue, so its pool serves only that queue"
        assert _option(command, "-c", "--concurrency"), f"{name} sets no concurrency"
        assert "-B" not in command and "--beat" not in command, f"{name} embeds a Beat"
        node = _option(command, "-n", "--hostname")
        assert node == f"{queues[0]}@%h", f"{name}: node name {node}"
        assert f"{queues[0]}@$$HOSTNAME" in " ".join(svc["healthcheck"]["test"]), f"{name} pings another node"
        consumed.setdefault(queues[0], []).append(name)
    assert {q: len(s) for q, s in consumed.items()} == dict.fromkeys(QUEUE_NAMES, 1)


def test_exactly_one_beat_runs(compose: dict[str, Any]) -> None:
    beats = [name for name, svc in _services(compose).items()
             if name not in INFRA and _role(svc["command"]) == "beat"]
    assert beats == ["beat"]
    assert _services(compose)["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_every_service_has_a_healthcheck_or_waits_for_a_healthy_one(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, svc in services.items():
        if "healthcheck" in svc:
            assert svc["healthcheck"]["test"], f"{name}: empty healthcheck"
            continue
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict) and any(
            d.get("condition") == "service_healthy" and "healthcheck" in services[dep] for dep, d in deps.items()
        ), f"{name} has no healthcheck and waits for no healthy service"
    for name, svc in services.items():
        if name not in INFRA:
            assert svc["depends_on"]["redis"]["condition"] == "service_healthy", f"{name} may start before Redis"


def test_redis_keeps_an_aof_never_evicts_and_is_redis_7(compose: dict[str, Any]) -> None:
    redis_svc = _services(compose)["redis"]
    command = " ".join(redis_svc["command"])
    assert redis_svc["image"].startswith("redis:7")
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert "ping" in " ".join(redis_svc["healthcheck"]["test"])


def test_secrets_come_from_the_environment(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, svc in services.items():
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATED.match(str(value)), f"{name}: {key} is not taken from the environment"
            if key == "REDIS_URL":
                assert "${REDIS_PASSWORD" in value, f"{name}: REDIS_URL carries a literal password"
        command = " ".join(str(t) for t in svc.get("command") or [])
        assert "--basic-auth" not in command, f"{name}: credentials on the command line"
        assert re.search(r"--requirepass\s+(?!\"?\$\$)", command) is None, f"{name}: literal Redis password"
    assert INTERPOLATED.match(services["flower"]["environment"]["FLOWER_BASIC_AUTH"])


def test_all_app_services_share_one_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    app_services = {name: svc for name, svc in _services(compose).items() if name not in INFRA}
    assert {svc["image"] for svc in app_services.values()} == {"taskrunner:latest"}
    assert {svc["build"] for svc in app_services.values()} == {"."}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert "pip install" in dockerfile and re.search(r"^USER (?!root)", dockerfile, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".taskrunner"} <= set(ignored)


def test_the_ha_profile_runs_a_primary_its_replica_and_three_sentinels_with_quorum_two(compose: dict[str, Any]) -> None:
    services = _services(compose)
    ha = {name for name, svc in services.items() if "ha" in svc.get("profiles", [])}
    assert ha == {"redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}
    replica = " ".join(services["redis-replica"]["command"])
    assert "--replicaof redis-primary 6379" in replica and "--appendonly yes" in replica
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        command = " ".join(services[name]["command"])
        assert "--sentinel" in command and "sentinel monitor taskrunner redis-primary 6379 2" in command
    # The app finds the master through the sentinels when told to; by default it stays on the single Redis.
    env = services["api"]["environment"]
    assert env["REDIS_URL"].startswith("${TASKRUNNER_REDIS_LOCATION:-redis://")
    assert env["TASKRUNNER_SENTINEL_MASTER"] == "${TASKRUNNER_SENTINEL_MASTER:-}"


def test_the_rabbitmq_profile_sets_consumer_timeout_above_the_hard_time_limit(compose: dict[str, Any]) -> None:
    from base.settings import Settings

    rabbit = _services(compose)["rabbitmq"]
    assert rabbit["profiles"] == ["rabbitmq"] and "healthcheck" in rabbit
    args = rabbit["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"].split()
    timeout_ms = int(args[args.index("consumer_timeout") + 1])
    assert timeout_ms > Settings(_env_file=None).time_limit_s * 1000
    assert INTERPOLATED.match(rabbit["environment"]["RABBITMQ_DEFAULT_PASS"])
    assert _services(compose)["worker-backtest"]["environment"]["TASKRUNNER_BROKER_URL"] == "${TASKRUNNER_BROKER_URL:-}"
