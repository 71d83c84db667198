"""The connection factory without servers: which locations are accepted, the one-line errors naming the setting, and
the Celery / redbeat options built for Sentinel and RabbitMQ."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from base.connections import ConnectionSettingError, location, redbeat_options
from base.settings import Settings
from tests.brokers import ROOT
from worker.config import celery_config

SENTINELS = "sentinel://:masterpw@10.0.0.1:26379/2;sentinel://10.0.0.2:26380"


def _settings(**values: object) -> Settings:
    base: dict[str, object] = {"progress_url": None, "broker_url": None, "result_backend": None}
    return Settings(**{**base, **values})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@h:6380/1", "unix:///tmp/r.sock?db=2"])
def test_redis_rediss_and_unix_locations_are_accepted_as_they_are(url: str) -> None:
    loc = location(_settings(REDIS_URL=url), "progress")
    assert loc.url == url and not loc.is_sentinel


def test_a_sentinel_location_lists_every_sentinel_with_the_masters_name_db_and_passwords() -> None:
    loc = location(_settings(REDIS_URL=SENTINELS, sentinel_master="mymaster", sentinel_password="spw"), "progress")
    assert loc.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (loc.master, loc.db, loc.password, loc.sentinel_password) == ("mymaster", 2, "masterpw", "spw")
    assert "masterpw" not in loc.redacted()


@pytest.mark.parametrize(("values", "expected"), [
    ({"REDIS_URL": "sentinel://127.0.0.1:26379"}, "REDIS_URL: a sentinel:// location needs TASKRUNNER_SENTINEL_MASTER"),
    ({"REDIS_URL": "sentinel://127.0.0.1", "sentinel_master": "m"}, "REDIS_URL: 'sentinel://127.0.0.1' is not "),
    ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL: http:// is not supported; use one of redis://"),
    ({"progress_url": "amqp://guest@h//"}, "TASKRUNNER_PROGRESS_URL: amqp:// is not supported"),
    ({"REDIS_URL": "redis://h:notaport/0"}, "REDIS_URL: redis://h:notaport/0 is not a valid Redis URL"),
])
def test_a_bad_location_is_one_line_naming_its_setting(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ConnectionSettingError) as bad:
        location(_settings(**values), "progress")
    assert str(bad.value).startswith(expected) and "\n" not in str(bad.value)


def test_celery_gets_the_master_name_for_a_sentinel_broker_and_result_backend() -> None:
    cfg = celery_config(_settings(REDIS_URL=SENTINELS, sentinel_master="mymaster", sentinel_password="spw"))
    assert cfg["broker_url"] == cfg["result_backend"] == SENTINELS
    for key in ("broker_transport_options", "result_backend_transport_options"):
        assert cfg[key]["master_name"] == "mymaster" and cfg[key]["sentinel_kwargs"] == {"password": "spw"}
    assert cfg["redbeat_redis_url"] == "redis-sentinel://"
    assert cfg["redbeat_redis_options"] == {
        "sentinels": [["10.0.0.1", 26379], ["10.0.0.2", 26380]], "service_name": "mymaster", "db": 2,
        "socket_timeout": 5.0, "password": "masterpw", "sentinel_kwargs": {"password": "spw"}}


def test_on_rabbitmq_beat_keeps_its_schedule_in_redis_and_the_redis_only_options_are_not_sent_to_amqp() -> None:
    cfg = celery_config(_settings(REDIS_URL="redis://:pw@cache:6379/3", broker_url="amqp://u:p@rabbit:5672//"))
    assert cfg["broker_url"] == "amqp://u:p@rabbit:5672//" and cfg["result_backend"] == "redis://:pw@cache:6379/3"
    assert cfg["redbeat_redis_url"] == "redis://cache:6379/3" and cfg["redbeat_redis_options"] == {"password": "pw"}
    assert cfg["broker_transport_options"] == {"confirm_publish": True}


def test_redbeat_never_sees_a_password_in_its_url() -> None:
    assert redbeat_options(_settings(REDIS_URL="rediss://user:s3cret@h:6380/0?ssl_cert_reqs=none")) == {
        "redbeat_redis_url": "rediss://user@h:6380/0?ssl_cert_reqs=none",
        "redbeat_redis_options": {"password": "s3cret"}}


@pytest.mark.parametrize(("env", "expected"), [
    ({"REDIS_URL": "sentinel://127.0.0.1:1"}, "taskrunner: REDIS_URL: a sentinel:// location needs"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "taskrunner: REDIS_URL: cannot reach redis://127.0.0.1:1/0"),
])
def test_the_cli_says_what_is_wrong_with_a_location_in_one_line_without_a_traceback(
    env: dict[str, str], expected: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("TASKRUNNER_PROGRESS_URL", "REDIS_URL")}
    done = subprocess.run([sys.executable, "-m", "taskrunner.cli", "ls"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
