"""Deterministic synthetic (made-up) daily bars: offline demos and tests, only ever used when chosen."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from market.bars import Bar, Period
from market.calendar import JST, last_completed_session, previous_trading_days
from market.errors import OutOfRangeError
from market.symbols import validate_symbol

FloatArray = npt.NDArray[np.float64]

# Identical output for the same inputs in every process on a machine. Across CPU types numpy's SIMD
# exp/log may differ in the last bit, which in rare cases can move a price by one tick.
#
# The random stream is indexed by calendar day since EPOCH, so a bar depends only on (symbol, date):
# fetching "1mo" or "5y", ending today or last week, agrees on shared days; and a holiday added to the
# calendar later does not shift every later price. Shocks on closed days accumulate into the next
# open, like weekend news does.
EPOCH = dt.date(2000, 1, 1)
# Price level of each symbol is drawn for this date so that recent prices look like today's market.
_ANCHOR = dt.date(2024, 1, 4)
_DAYS_PER_YEAR = 365.25
# Half-life of a deviation from the trend: pure GBM over 25 years wanders to absurd prices
# (1 yen or 1,000,000 yen); a slow pull back keeps levels plausible while daily moves stay GBM-like.
_REVERSION_HALF_LIFE_DAYS = 2 * _DAYS_PER_YEAR
# Box-Muller yields normals in pairs; five are used per day (return, open gap, high, low, volume).
_NORMALS_PER_DAY = 6
_LOT = 100  # TSE trading unit: volumes are whole lots of 100 shares.


@dataclass(frozen=True)
class SymbolProfile:
    """Per-symbol parameters of the synthetic market, all derived from the symbol's SHA-256."""

    price_level: float  # yen at _ANCHOR on the trend line
    drift: float  # annual log drift
    volatility: float  # annual volatility of log returns
    base_volume: float  # typical shares per day
    seed: int


def _unit(digest: bytes, i: int) -> float:
    return int.from_bytes(digest[4 * i : 4 * i + 4], "big") / 2**32


def _log_uniform(u: float, lo: float, hi: float) -> float:
    return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def symbol_profile(symbol: str) -> SymbolProfile:
    """Return the synthetic parameters of ``symbol``; stable across processes and Python versions."""
    # hashlib, not hash(): str hashes are salted per process (PYTHONHASHSEED), which breaks determinism.
    digest = hashlib.sha256(f"market.synthetic:{validate_symbol(symbol)}".encode()).digest()
    return SymbolProfile(
        price_level=_log_uniform(_unit(digest, 0), 200.0, 20_000.0),
        drift=-0.02 + 0.10 * _unit(digest, 1),
        volatility=0.18 + 0.27 * _unit(digest, 2),
        base_volume=_log_uniform(_unit(digest, 3), 50_000.0, 20_000_000.0),
        seed=int.from_bytes(digest[16:32], "big"),
    )


def _standard_normals(seed: int, n_days: int) -> FloatArray:
    # Generator.standard_normal may change between numpy releases (NEP 19); raw PCG64 output is frozen,
    # so Box-Muller on the raw stream keeps the bars identical across numpy upgrades too.
    raw = np.random.PCG64(seed).random_raw(n_days * _NORMALS_PER_DAY)
    uniforms = (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53
    u1 = 1.0 - uniforms[0::2]  # in (0, 1]: log(0) is impossible
    u2 = uniforms[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    normals = np.empty(n_days * _NORMALS_PER_DAY, dtype=np.float64)
    normals[0::2] = radius * np.cos(2.0 * np.pi * u2)
    normals[1::2] = radius * np.sin(2.0 * np.pi * u2)
    return normals.reshape(n_days, _NORMALS_PER_DAY)


def round_to_tick(prices: FloatArray) -> FloatArray:
    """Round yen prices to 0.1 yen below 1,000 yen and to 1 yen above, like TSE's finest tick table."""
    # Monotone in the price, so rounding open/high/low/close separately keeps high >= close >= low.
    return np.maximum(np.where(prices < 1000.0, np.round(prices, 1), np.round(prices)), 0.1)


class SyntheticProvider:
    """Deterministic, realistic-looking daily bars seeded by the symbol, on TSE trading days only."""

    name: str = "synthetic"

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        # The clock only decides the default end date; injectable so tests do not depend on today.
        self._clock = clock or (lambda: dt.datetime.now(JST))

    def fetch(self, symbol: str, period: str, end: dt.date | None = None) -> list[Bar]:
        """Return the bars of ``symbol`` for the last ``period`` of trading days up to ``end``, oldest first."""
        validate_symbol(symbol)
        wanted = Period.parse(period).trading_days
        if end is None:
            end = last_completed_session(self._clock())
        days = previous_trading_days(end, wanted)
        if not days or days[0] < EPOCH:
            raise OutOfRangeError(f"synthetic history starts on {EPOCH}; {period} ending {end} reaches before it")
        return self._bars(symbol, days)

    @staticmethod
    def _bars(symbol: str, days: list[dt.date]) -> list[Bar]:
        profile = symbol_profile(symbol)
        n = (days[-1] - EPOCH).days + 1
        z = _standard_normals(profile.seed, n)
        # Calendar-day volatility chosen so the annualised volatility of the path is the profile's.
        step_vol = profile.volatility / math.sqrt(_DAYS_PER_YEAR)
        session_vol = profile.volatility / math.sqrt(252)
        keep = 0.5 ** (1.0 / _REVERSION_HALF_LIFE_DAYS)

        # AR(1) deviation from the trend; a plain loop because each step needs the previous one.
        deviation = np.empty(n, dtype=np.float64)
        level = 0.0
        for step, shock in enumerate((step_vol * z[:, 0]).tolist()):
            level = keep * level + shock
            deviation[step] = level
        years = (np.arange(n, dtype=np.float64) - (_ANCHOR - EPOCH).days) / _DAYS_PER_YEAR
        fair = profile.price_level * np.exp(profile.drift * years + deviation)

        day_index = np.array([(d - EPOCH).days for d in days])
        close = fair[day_index]
        # The open starts from the previous calendar day's value, so weekend/holiday moves show as gaps.
        open_ = fair[np.maximum(day_index - 1, 0)] * np.exp(0.35 * session_vol * z[day_index, 1])
        high = np.maximum(open_, close) * np.exp(0.5 * session_vol * np.abs(z[day_index, 2]))
        low = np.minimum(open_, close) * np.exp(-0.5 * session_vol * np.abs(z[day_index, 3]))
        # Volume rises on big-move days, as real turnover does.
        move = np.abs(np.log(close / open_)) / session_vol
        volume = profile.base_volume * np.exp(0.35 * z[day_index, 4] + 0.3 * move)
        lots = (np.maximum(np.round(volume / _LOT), 1.0) * _LOT).tolist()

        o, h, lo, c = (round_to_tick(a).tolist() for a in (open_, high, low, close))
        return [
            Bar(symbol=symbol, date=d, open=o[i], high=h[i], low=lo[i], close=c[i], volume=int(lots[i]))
            for i, d in enumerate(days)
        ]
