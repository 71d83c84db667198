"""The one connection factory: every component turns a configured location into clients and Celery options here.

Accepted Redis locations: `redis://`, `rediss://`, `unix://`, and Sentinel as `sentinel://h1:p1;sentinel://h2:p2`
(kombu's spelling; a `/db` and `:password@` on any entry apply to the master) with TASKRUNNER_SENTINEL_MASTER naming
the master and TASKRUNNER_SENTINEL_PASSWORD the sentinels' own password. The broker may also be `amqp://`
(RabbitMQ); results, progress, notifications and Beat always live in Redis.

Why one place: before it, each component parsed its URL with redis-py's `from_url`, so a Sentinel location was
refused five different ways. A malformed location raises ConnectionSettingError, whose text is one line naming the
setting (the CLI and the worker print it instead of a traceback); `require_reachable` does the same for a location
that does not answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from base.settings import Settings

Role = Literal["redis", "progress", "broker", "result"]
REDIS_SCHEMES = ("redis", "rediss", "unix", "sentinel")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
# Sentinel queries and a failover's reconnects must give up in seconds, not hang on a dead primary.
SENTINEL_SOCKET_TIMEOUT_S = 2.0


class ConnectionSettingError(ValueError):
    """A configured location is malformed or unreachable; the message is one line that names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True)
class Location:
    """One parsed location and the setting it came from."""

    setting: str
    url: str
    scheme: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    db: int = 0
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def is_sentinel(self) -> bool:
        """Whether the master is found through sentinels."""
        return self.scheme == "sentinel"

    @property
    def is_amqp(self) -> bool:
        """Whether this is a RabbitMQ (AMQP) broker."""
        return self.scheme in AMQP_SCHEMES

    def redacted(self) -> str:
        """The location without its passwords (for messages and logs)."""
        return ";".join(_redact(part) for part in self.url.split(";"))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _setting_name(settings: Settings, role: Role) -> tuple[str, str]:
    """(environment variable, value) in force for a role: its own override, else REDIS_URL, else the default."""
    override = {"progress": ("TASKRUNNER_PROGRESS_URL", settings.progress_url),
                "broker": ("TASKRUNNER_BROKER_URL", settings.broker_url),
                "result": ("TASKRUNNER_RESULT_BACKEND", settings.result_backend)}.get(role)
    if override is not None and override[1]:
        return override[0], override[1]
    return "REDIS_URL", settings.effective_redis_url


def location(settings: Settings, role: Role) -> Location:
    """The parsed location of a role: `redis` (REDIS_URL: Beat), `progress`, `broker` or `result`."""
    setting, url = _setting_name(settings, role)
    return parse_location(url, setting=setting, settings=settings, amqp_ok=role == "broker")


def parse_location(url: str, *, setting: str, settings: Settings, amqp_ok: bool = False) -> Location:
    """Parses and checks `url`; raises ConnectionSettingError naming `setting` when it cannot be used."""
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    accepted = REDIS_SCHEMES + (AMQP_SCHEMES if amqp_ok else ())
    if scheme not in accepted:
        shown = f"{scheme}://" if scheme else repr(_redact(url)[:60])
        raise ConnectionSettingError(setting, f"{shown} is not supported; use one of "
                                     + ", ".join(f"{s}://" for s in accepted))
    if scheme in AMQP_SCHEMES:
        return Location(setting=setting, url=url, scheme=scheme)
    if scheme == "sentinel":
        return _parse_sentinel(url, setting=setting, settings=settings)
    try:
        kwargs = redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ConnectionSettingError(setting, f"{_redact(url)} is not a valid Redis URL ({exc})") from None
    return Location(setting=setting, url=url, scheme=scheme, db=int(kwargs.get("db") or 0),
                    password=kwargs.get("password"))


def _parse_sentinel(url: str, *, setting: str, settings: Settings) -> Location:
    if not settings.sentinel_master:
        raise ConnectionSettingError(setting, "a sentinel:// location needs TASKRUNNER_SENTINEL_MASTER (the master's "
                                     "name in the sentinels' configuration)")
    hosts: list[tuple[str, int]] = []
    db, password = 0, None
    for part in (p.strip() for p in url.split(";")):
        if not part:
            continue
        parts = urlsplit(part)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "sentinel" or not parts.hostname or port is None:
            raise ConnectionSettingError(setting, f"{_redact(part)!r} is not sentinel://host:port "
                                         "(separate several with ';')")
        hosts.append((parts.hostname, port))
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ConnectionSettingError(setting, f"database {path!r} in {_redact(part)} is not a number")
            db = int(path)
        if parts.password is not None:
            password = unquote(parts.password)
    if not hosts:
        raise ConnectionSettingError(setting, "no sentinel listed")
    return Location(setting=setting, url=url, scheme="sentinel", sentinels=tuple(hosts),
                    master=settings.sentinel_master, db=db, password=password,
                    sentinel_password=settings.sentinel_password)


def _sentinel_kwargs(loc: Location) -> dict[str, Any]:
    extra: dict[str, Any] = {"socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
                             "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT_S}
    if loc.sentinel_password:
        extra["password"] = loc.sentinel_password
    return extra


# --- clients ------------------------------------------------------------------------------------------------------

def redis_client(loc: Location, *, decode: bool = True, **options: Any) -> redis.Redis:
    """A synchronous client on the location (for Sentinel: on whichever server is the master now)."""
    if loc.is_amqp:
        raise ConnectionSettingError(loc.setting, "this component needs Redis, not an AMQP broker")
    if loc.is_sentinel:
        assert loc.master is not None
        sentinel = Sentinel(list(loc.sentinels), sentinel_kwargs=_sentinel_kwargs(loc),  # type: ignore[no-untyped-call]
                            socket_timeout=options.pop("socket_timeout", SENTINEL_SOCKET_TIMEOUT_S * 2.5),
                            socket_connect_timeout=SENTINEL_SOCKET_TIMEOUT_S)
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            loc.master, db=loc.db, password=loc.password, decode_responses=decode, **options)
        return client
    return redis.Redis.from_url(loc.url, decode_responses=decode, **options)


def async_redis_client(loc: Location, *, max_connections: int | None = None, **options: Any) -> aioredis.Redis:
    """An asyncio client (decoded replies); with `max_connections`, callers wait (up to 10 s) for a free one."""
    if loc.is_amqp:
        raise ConnectionSettingError(loc.setting, "this component needs Redis, not an AMQP broker")
    if loc.is_sentinel:
        assert loc.master is not None
        sentinel = AsyncSentinel(list(loc.sentinels), sentinel_kwargs=_sentinel_kwargs(loc),  # type: ignore[no-untyped-call]
                                 socket_connect_timeout=SENTINEL_SOCKET_TIMEOUT_S)
        if max_connections is not None:
            options["max_connections"] = max_connections
        client: aioredis.Redis = sentinel.master_for(loc.master, db=loc.db, password=loc.password,
                                                     decode_responses=True, **options)
        return client
    if max_connections is None:
        return aioredis.Redis.from_url(loc.url, decode_responses=True, **options)
    pool = aioredis.BlockingConnectionPool.from_url(loc.url, decode_responses=True, max_connections=max_connections,
                                                    timeout=10, **options)
    return aioredis.Redis(connection_pool=pool)


def require_reachable(loc: Location, client: redis.Redis) -> None:
    """Raises ConnectionSettingError (one line naming the setting) unless the location answers PING."""
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise ConnectionSettingError(loc.setting, f"cannot reach {loc.redacted()} ({type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start one with "
                                     "`taskrunner up` or point the setting at a running one") from None


def progress_client(settings: Settings) -> redis.Redis:
    """The progress store's client (also notifications' and metrics')."""
    return redis_client(location(settings, "progress"))


# --- Celery -------------------------------------------------------------------------------------------------------

def broker_is_amqp(settings: Settings) -> bool:
    """Whether the Celery broker is RabbitMQ."""
    return location(settings, "broker").is_amqp


def celery_connection_options(settings: Settings) -> dict[str, Any]:
    """broker_url, result_backend and the transport options that make Sentinel work for both (merged by the caller
    into its own transport options)."""
    broker, result = location(settings, "broker"), location(settings, "result")
    out: dict[str, Any] = {"broker_url": broker.url, "result_backend": result.url,
                           "broker_transport_options": {}, "result_backend_transport_options": {}}
    for loc, key in ((broker, "broker_transport_options"), (result, "result_backend_transport_options")):
        if loc.is_sentinel:
            out[key]["master_name"] = loc.master
            if loc.sentinel_password:
                out[key]["sentinel_kwargs"] = {"password": loc.sentinel_password}
    return out


def redbeat_options(settings: Settings) -> dict[str, Any]:
    """celery-redbeat's URL and client options: always REDIS_URL's Redis (never the AMQP broker), the password kept
    out of the URL (Celery censors option keys named like passwords, not arbitrary URLs)."""
    loc = location(settings, "redis")
    if loc.is_sentinel:
        options: dict[str, Any] = {"sentinels": [list(h) for h in loc.sentinels], "service_name": loc.master,
                                   "db": loc.db, "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S * 2.5}
        if loc.password:
            options["password"] = loc.password
        if loc.sentinel_password:
            options["sentinel_kwargs"] = {"password": loc.sentinel_password}
        return {"redbeat_redis_url": "redis-sentinel://", "redbeat_redis_options": options}
    parts = urlsplit(loc.url)
    options = {}
    url = loc.url
    if parts.password is not None and loc.scheme != "unix":
        options["password"] = unquote(parts.password)
        user = f"{parts.username}@" if parts.username else ""
        url = urlunsplit(parts._replace(netloc=user + parts.netloc.rsplit("@", 1)[1]))
    return {"redbeat_redis_url": url, "redbeat_redis_options": options}
