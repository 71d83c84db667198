"""The store's held connection: its script calls go out on one connection taken from the client's pool once, so the
hot path skips the pool's per-call machinery (a lock and a fork check on each take and release, the retry wrapper,
observability hooks) and packs each command once.

A call may also be sent without waiting for its reply (`send`: a record's creation at publish, overlapped with the
publish itself); its reply is read before the connection's next call, or by `read_sent`.

Only for a plain (or Sentinel) client: a Redis Cluster client routes each call by slot, so it keeps its own path.
A dropped connection (a restart, a failover, a blip) is disconnected, given back to the pool and forgotten, and the
error goes to the caller: the reporter's outage handling retries, and the next call takes a fresh connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis


class HeldConnection:
    """One connection out of `client`'s pool, for one thread at a time: a call from another thread while it is
    busy takes the pool's path instead of waiting (a reporter runs in its task's thread; the store is shared)."""

    __slots__ = ("__weakref__", "_client", "_conn", "_lock", "_unread")

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._conn: Any = None
        self._lock = threading.Lock()
        #: a call sent without waiting (`send`) whose reply is still to be read: at most one at a time
        self._unread: _Unread | None = None
        _HOLDERS.add(self)

    def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """The script's reply (EVALSHA; on NOSCRIPT, SCRIPT LOAD then the same packed command again)."""
        if not self._lock.acquire(blocking=False):
            return pooled(self._client, script, keys, args)
        try:
            conn = self._settled()
            packed = _pack(conn, ("EVALSHA", script.sha, len(keys), *keys, *args))
            try:
                conn.send_packed_command(packed, check_health=False)
                return self._reply(conn, script, packed)
            except ResponseError:
                raise  # a whole error reply was read: the connection is in step and stays held
            except BaseException:
                self._drop(conn)
                raise
        finally:
            self._lock.release()

    def send(self, script: Script, keys: list[str], args: list[Any], on_reply: OnReply) -> bool:
        """Sends the script call without waiting for its reply, which goes to `on_reply` (the reply, or the error
        raised reading it) at this connection's next call or `read_sent`. False, with nothing sent, while another
        thread is on the connection: the caller then makes the call the usual way."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            conn = self._settled()
            packed = _pack(conn, ("EVALSHA", script.sha, len(keys), *keys, *args))
            try:
                conn.send_packed_command(packed, check_health=False)
            except BaseException:
                self._drop(conn)
                raise
            self._unread = _Unread(script, packed, on_reply)
            return True
        finally:
            self._lock.release()

    def read_sent(self) -> None:
        """Reads the reply of a call sent without waiting, if any (handing it to its `on_reply`)."""
        if self._unread is None:
            return
        with self._lock:
            if self._conn is not None:
                self._settled()

    def _settled(self) -> Any:
        """The held connection (taken from the pool if none is held), with no reply left unread on it."""
        conn = self._conn
        if conn is None:
            conn = self._conn = self._client.connection_pool.get_connection()
        unread, self._unread = self._unread, None
        if unread is not None:
            try:
                reply: Any = self._reply(conn, unread.script, unread.packed)
            except ResponseError as exc:
                reply = exc
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # The error is the unread call's to report; this call goes out on a new connection.
                self._drop(conn)
                unread.on_reply(exc)
                return self._settled()
            unread.on_reply(reply)
        return conn

    def _reply(self, conn: Any, script: Script, packed: Any) -> Any:
        """The reply to the packed call just sent (the only one in flight): on NOSCRIPT (Redis restarted or flushed
        its scripts), the script is loaded on this connection and the call sent again."""
        try:
            return conn.read_response()
        except NoScriptError:
            conn.send_command("SCRIPT", "LOAD", script.script, check_health=False)
            conn.read_response()
            conn.send_packed_command(packed, check_health=False)
            return conn.read_response()

    def _drop(self, conn: Any) -> None:
        # Dropped, timed out or interrupted mid-reply: never reuse it (a late reply would answer the next call).
        # redis-py has disconnected it already; the pool takes it back and reconnects it when it lends it again.
        self._conn = None
        self._unread = None
        self._client.connection_pool.release(conn)

    def release(self) -> None:
        """Gives the connection back to the pool (the store is closing, or this process forked)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._client.connection_pool.release(conn)

    def __del__(self) -> None:
        # The store is gone but its client may live on (shared): its pool must not count this connection in use.
        # At interpreter exit the pool may be half torn down: nothing is left to save then.
        with contextlib.suppress(Exception):
            self.release()

    def _forget(self) -> None:
        # In a forked child: the socket is the parent's (the child's pool resets itself and makes new ones), and the
        # lock may have been held by a thread that does not exist here.
        self._conn = None
        self._unread = None
        self._lock = threading.Lock()


#: Where the reply of a call sent without waiting goes: the reply, or the exception raised reading it.
OnReply = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class _Unread:
    script: Script
    packed: Any
    on_reply: OnReply


def _pack(conn: Any, command: tuple[Any, ...]) -> Any:
    """The command packed as the connection would pack it: straight through hiredis, which redis-py's own packer
    calls after copying the arguments twice, when hiredis is what it uses."""
    if HIREDIS_AVAILABLE:
        return [hiredis.pack_command(command)]  # send_packed_command takes a list of chunks
    return conn.pack_command(*command)


def pooled(client: Any, script: Script, keys: list[str], args: list[Any]) -> Any:
    """The script's reply on a connection the client's pool lends for this one call (EVALSHA straight away, skipping
    redis-py's Script wrapper; it loads the script when missing)."""
    try:
        return client.evalsha(script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return script(keys=keys, args=args)


_HOLDERS: weakref.WeakSet[HeldConnection] = weakref.WeakSet()


def _after_fork() -> None:
    for holder in list(_HOLDERS):
        holder._forget()


os.register_at_fork(after_in_child=_after_fork)
