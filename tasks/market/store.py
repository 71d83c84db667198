"""Daily bars and latest prices in Redis: what fetch_data writes and analysis / backtest tasks read.

Bars live in one hash per symbol (date -> bar JSON, with a TTL) on the progress store's Redis client, so every
process of a deployment (and the test worker, db 2) reads what the market data tasks wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict

from base.keys import AppKeys
from base.settings import get_settings
from market import Bar, validate_symbol
from progress.lua_loader import load_lua
from tasks.market.settings import market_settings
from worker.store import progress_store

_LUA = __name__.rpartition(".")[0]  # this module's package: its .lua files sit beside it


class LastPrice(BaseModel):
    """A symbol's latest close, the day it is from, and its change from the previous close."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    price: float
    date: dt.date
    previous_close: float | None = None
    change_percent: float | None = None
    updated_at: AwareDatetime

    def announcement(self) -> dict[str, object]:
        """The JSON published on the symbol's prices channel: {symbol, price, date, change_percent}."""
        return {"symbol": self.symbol, "price": self.price, "date": self.date.isoformat(),
                "change_percent": self.change_percent}


def last_price_of(bars: Sequence[Bar], now: dt.datetime) -> LastPrice:
    """The latest price a history shows (its last close), with the change from the close before it."""
    last = bars[-1]
    previous = bars[-2].close if len(bars) > 1 else None
    change = None if previous is None else round((last.close - previous) / previous * 100.0, 4)
    return LastPrice(symbol=last.symbol, price=last.close, date=last.date, previous_close=previous,
                     change_percent=change, updated_at=now)


class BarStore:
    """Reads and writes bars and latest prices on one Redis client (decode_responses=True)."""

    def __init__(self, client: redis.Redis, keys: AppKeys, *, ttl_s: int) -> None:
        self.redis = client
        # Any: redis-py types replies as bytes | str; ProgressStore's client always decodes responses to str.
        self._r: Any = client
        self.keys = keys
        self.ttl_s = ttl_s
        self._save = client.register_script(load_lua(_LUA, "market_save_bars.lua"))
        self._last = client.register_script(load_lua(_LUA, "market_last_price.lua"))

    def save_bars(self, symbol: str, bars: Sequence[Bar]) -> int:
        """Stores `bars` of `symbol` and refreshes the TTL; returns how many were new or changed (one round trip)."""
        symbol = validate_symbol(symbol)
        args: list[str | int] = [self.ttl_s]
        for bar in bars:
            if bar.symbol != symbol:
                raise ValueError(f"bar of {bar.symbol} given to save_bars({symbol!r})")
            args += [bar.date.isoformat(), bar.model_dump_json()]
        if not bars:
            return 0
        return int(self._save(keys=[self.keys.bars(symbol)], args=args))

    def load_bars(self, symbol: str) -> list[Bar]:
        """Every stored bar of `symbol`, oldest first (empty when none are stored or they expired)."""
        stored: dict[str, str] = self._r.hgetall(self.keys.bars(validate_symbol(symbol)))
        return [Bar.model_validate_json(stored[day]) for day in sorted(stored)]

    def set_last_price(self, price: LastPrice) -> bool:
        """Stores `price` unless a newer day is stored; publishes it on a change. True when it changed."""
        changed = self._last(
            keys=[self.keys.last_price()],
            args=[price.symbol, price.model_dump_json(), price.date.isoformat(), repr(price.price),
                  self.keys.prices_channel(price.symbol),
                  json.dumps(price.announcement())],
        )
        return bool(changed)

    def last_price(self, symbol: str) -> LastPrice | None:
        """The stored latest price of `symbol`, if any."""
        raw: str | None = self._r.hget(self.keys.last_price(), validate_symbol(symbol))
        return None if raw is None else LastPrice.model_validate_json(raw)

    def last_prices(self) -> dict[str, LastPrice]:
        """Every stored latest price by symbol."""
        stored: dict[str, str] = self._r.hgetall(self.keys.last_price())
        return {symbol: LastPrice.model_validate_json(raw) for symbol, raw in stored.items()}


_store: BarStore | None = None
_pid: int | None = None


def bar_store() -> BarStore:
    """This process's BarStore on the progress store's Redis client (a forked child gets its own)."""
    global _store, _pid
    client = progress_store().redis
    if _store is None or _pid != os.getpid() or _store.redis is not client:
        _store = BarStore(client, AppKeys(get_settings().namespace), ttl_s=market_settings().bars_ttl_s)
        _pid = os.getpid()
    return _store


def load_bars(symbol: str) -> list[Bar]:
    """Every stored daily bar of `symbol`, oldest first (what analysis and backtest tasks read)."""
    return bar_store().load_bars(symbol)


def save_bars(symbol: str, bars: Sequence[Bar]) -> int:
    """Stores `bars` of `symbol` (TTL refreshed); returns how many were new or changed."""
    return bar_store().save_bars(symbol, bars)


def last_price(symbol: str) -> LastPrice | None:
    """The latest stored price of `symbol`, if any."""
    return bar_store().last_price(symbol)
