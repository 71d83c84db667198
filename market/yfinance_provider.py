"""Price provider backed by Yahoo Finance through the optional ``yfinance`` package."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, SupportsFloat

from market.bars import Bar, Period, ohlc_problem
from market.calendar import JST, last_completed_session, previous_trading_days
from market.csv_bars import parse_bar_date, parse_volume
from market.errors import BarParseError, PriceDataNotFoundError, ProviderUnavailableError
from market.symbols import validate_symbol

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'taskrunner[yfinance]'"
_PRICE_COLUMNS = ("Open", "High", "Low", "Close")


class HistoryRow(Protocol):
    """One row of a history table: a pandas Series or a plain dict keyed by column name."""

    def __getitem__(self, key: str, /) -> object: ...


class HistoryFrame(Protocol):
    """The part of a pandas DataFrame this module uses, so tests can pass a small fake."""

    def iterrows(self) -> Iterable[tuple[object, HistoryRow]]: ...


class Ticker(Protocol):
    """The part of ``yfinance.Ticker`` this module uses."""

    def history(
        self,
        *,
        interval: str,
        auto_adjust: bool,
        period: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> HistoryFrame: ...


TickerFactory = Callable[[str], Ticker]


def _index_date(value: object) -> dt.date:
    # yfinance indexes daily bars by pandas Timestamps at 00:00 exchange time; Timestamp subclasses
    # datetime. Aware values are converted to Tokyo first, since a UTC dump puts them on the previous day.
    if isinstance(value, dt.datetime):
        return value.astimezone(JST).date() if value.tzinfo is not None else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return parse_bar_date(value)
    raise ValueError(f"not a date: {value!r}")


def _number(value: object) -> float:
    # None is how JSON spells a pandas NaN; numpy scalars convert through float().
    if value is None:
        return math.nan
    # Strings have no __float__, so a text cell is refused rather than parsed: the table is not prices then.
    if not isinstance(value, SupportsFloat):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _rows(history: HistoryFrame | Iterable[tuple[object, HistoryRow]]) -> Iterator[tuple[object, HistoryRow]]:
    if hasattr(history, "iterrows"):
        yield from history.iterrows()
    else:
        yield from history


def bars_from_history(
    symbol: str, history: HistoryFrame | Iterable[tuple[object, HistoryRow]], source: str | None = None
) -> list[Bar]:
    """Convert yfinance ``history()`` output (DataFrame or (index, row) pairs) to bars, skipping NaN rows."""
    symbol = validate_symbol(symbol)
    where = source or f"yfinance history of {symbol}"
    bars: dict[dt.date, Bar] = {}
    skipped = 0
    for position, (index, row) in enumerate(_rows(history), start=1):
        values: dict[str, float] = {}
        for column in (*_PRICE_COLUMNS, "Volume"):
            try:
                values[column] = _number(row[column])
            except KeyError:
                raise BarParseError(where, position, column, "missing column", unit="row") from None
            except (TypeError, ValueError) as exc:
                raise BarParseError(where, position, column, str(exc), unit="row") from None
        # yfinance returns NaN rows, e.g. a dividend or split dated on a day without a price row: no bar there.
        if any(math.isnan(v) for v in values.values()):
            skipped += 1
            continue
        try:
            day = _index_date(index)
        except ValueError as exc:
            raise BarParseError(where, position, "Date", str(exc), unit="row") from None
        problem = ohlc_problem(values["Open"], values["High"], values["Low"], values["Close"])
        if problem is not None:
            raise BarParseError(where, position, problem[0].capitalize(), problem[1], unit="row")
        try:
            volume = parse_volume(values["Volume"])
        except ValueError as exc:
            raise BarParseError(where, position, "Volume", str(exc), unit="row") from None
        # Last row wins on a repeated date: Yahoo has returned the latest day twice (yfinance issues
        # #573, #754), and the later row is the up-to-date one.
        bars[day] = Bar(
            symbol=symbol,
            date=day,
            open=values["Open"],
            high=values["High"],
            low=values["Low"],
            close=values["Close"],
            volume=volume,
        )
    if skipped:
        log.debug("%s: skipped %d row(s) with missing prices or volume", where, skipped)
    return [bars[day] for day in sorted(bars)]


def _yfinance_ticker_factory() -> TickerFactory:
    try:
        import yfinance  # optional extra: importing at module level would break installs without it
    except ImportError as exc:
        raise ProviderUnavailableError(
            f"the yfinance price provider needs the optional yfinance package: {INSTALL_HINT}"
        ) from exc
    factory: TickerFactory = yfinance.Ticker
    return factory


class YFinanceProvider:
    """Daily bars from Yahoo Finance; needs network access and the ``yfinance`` extra."""

    name: str = "yfinance"

    def __init__(
        self, ticker_factory: TickerFactory | None = None, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        # Resolve yfinance now so a missing extra fails at configuration time with the install hint.
        self._ticker_factory = ticker_factory if ticker_factory is not None else _yfinance_ticker_factory()
        self._clock = clock or (lambda: dt.datetime.now(JST))

    def fetch(self, symbol: str, period: str, end: dt.date | None = None) -> list[Bar]:
        """Return up to ``period``'s trading days of bars for ``symbol`` ending at ``end``, oldest first."""
        validate_symbol(symbol)
        parsed = Period.parse(period)
        wanted = parsed.trading_days
        ticker = self._ticker_factory(symbol)
        if end is None:
            frame = ticker.history(period=parsed.value, interval="1d", auto_adjust=False)
            # During a session Yahoo already returns today's unfinished bar; daily bars stop at the last close.
            last = last_completed_session(self._clock())
            first = dt.date.min
        else:
            last = end
            first = previous_trading_days(end, wanted)[0]
            # yfinance's end bound is exclusive.
            frame = ticker.history(
                start=first.isoformat(), end=(end + dt.timedelta(days=1)).isoformat(), interval="1d", auto_adjust=False
            )
        bars = [bar for bar in bars_from_history(symbol, frame) if first <= bar.date <= last]
        if not bars:
            # yfinance prints an error and returns an empty frame for unknown or delisted symbols.
            raise PriceDataNotFoundError(f"Yahoo Finance returned no daily bars for {symbol} ({period} ending {last})")
        # Yahoo's periods are calendar spans; trimming keeps the count comparable with other providers.
        return bars[-wanted:]
