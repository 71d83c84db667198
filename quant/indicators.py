"""Technical indicators (SMA, EMA, RSI, MACD, Bollinger) and a rule-based signal built from them.

Every series function returns a list aligned with its input: index i holds the indicator value using data up to and
including bar i, and None during the warm-up period where the indicator is not yet defined.
"""

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from quant._model import QuantModel
from quant._series import FloatArray, SeriesLike, as_finite_series, require_int_at_least, to_optional_list

# Thresholds and vote weights of technical_signal(); module-level so callers and tests can refer to them.
RSI_OVERSOLD = 30.0
RSI_OVERBOUGHT = 70.0
BUY_THRESHOLD = 1.0
SELL_THRESHOLD = -1.0
# The trend vote is weaker than the others: a moving-average trend alone should not trigger a trade.
TREND_WEIGHT = 0.5


class MacdSeries(QuantModel):
    """MACD line, signal line and histogram, each aligned with the input closes."""

    macd: list[float | None]
    signal: list[float | None]
    histogram: list[float | None]


class BollingerBands(QuantModel):
    """Bollinger middle (SMA), upper and lower bands, each aligned with the input closes."""

    middle: list[float | None]
    upper: list[float | None]
    lower: list[float | None]


class TechnicalAnalysis(QuantModel):
    """Latest indicator values for a close series plus a buy/sell/hold verdict and the reasons behind it."""

    close: float
    sma20: float | None
    sma50: float | None
    ema12: float | None
    ema26: float | None
    rsi14: float | None
    macd: float | None
    macd_signal: float | None
    macd_histogram: float | None
    bollinger_upper: float | None
    bollinger_middle: float | None
    bollinger_lower: float | None
    # Sum of rule votes: +1/-1 for RSI, MACD cross and Bollinger, +/-0.5 for the SMA trend.
    score: float
    signal: Literal["buy", "sell", "hold"]
    reasons: list[str]


def _sma(x: FloatArray, window: int) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if window <= x.size:
        # A per-window mean rather than a running cumulative sum: cumsum differences lose precision on long series.
        out[window - 1 :] = sliding_window_view(x, window).mean(axis=1)
    return out


def _ema(x: FloatArray, span: int) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if span > x.size:
        return out
    alpha = 2.0 / (span + 1.0)
    xs = x.tolist()  # the recursion is inherently sequential; plain floats are much faster than numpy scalars
    # Seeding with the SMA of the first `span` values (rather than with x[0]) removes the start-up bias.
    prev = sum(xs[:span]) / span
    out[span - 1] = prev
    for i in range(span, len(xs)):
        prev = alpha * xs[i] + (1.0 - alpha) * prev
        out[i] = prev
    return out


def _rsi_from_averages(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        # No losses: RSI is 100 by definition; a perfectly flat window is reported as neutral 50 instead of 0/0.
        return 100.0 if avg_gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def _rsi(x: FloatArray, period: int) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if x.size <= period:  # `period` price changes need period + 1 prices
        return out
    deltas = np.diff(x)
    gains = np.clip(deltas, 0.0, None).tolist()
    losses = np.clip(-deltas, 0.0, None).tolist()
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period
    out[period] = _rsi_from_averages(avg_gain, avg_loss)
    # Wilder's smoothing is an EMA with alpha = 1/period, which is why RSI(14) reacts more slowly than EMA(14).
    for i in range(period, len(gains)):
        avg_gain = (avg_gain * (period - 1) + gains[i]) / period
        avg_loss = (avg_loss * (period - 1) + losses[i]) / period
        out[i + 1] = _rsi_from_averages(avg_gain, avg_loss)
    return out


def _macd(x: FloatArray, fast: int, slow: int, signal: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    line = _ema(x, fast) - _ema(x, slow)  # NaN until the slow EMA exists
    sig = np.full(x.shape, np.nan)
    # The signal EMA starts where the MACD line does, so it is seeded with the SMA of the first `signal` MACD values.
    sig[slow - 1 :] = _ema(line[slow - 1 :], signal)
    return line, sig, line - sig


def _bollinger(x: FloatArray, window: int, num_std: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    middle = _sma(x, window)
    std = np.full(x.shape, np.nan)
    if window <= x.size:
        # Population std (ddof=0) is Bollinger's own definition and what charting packages use.
        std[window - 1 :] = sliding_window_view(x, window).std(axis=1)
    return middle, middle + num_std * std, middle - num_std * std


def sma(values: SeriesLike, window: int) -> list[float | None]:
    """Simple moving average over `window` bars; None for the first window-1 bars."""
    require_int_at_least(window, 1, "window")
    return to_optional_list(_sma(as_finite_series(values), window))


def ema(values: SeriesLike, span: int) -> list[float | None]:
    """Exponential moving average, alpha=2/(span+1), seeded with the SMA of the first `span` values."""
    require_int_at_least(span, 1, "span")
    return to_optional_list(_ema(as_finite_series(values), span))


def rsi(values: SeriesLike, period: int = 14) -> list[float | None]:
    """Relative Strength Index with Wilder's smoothing; None for the first `period` bars."""
    require_int_at_least(period, 1, "period")
    return to_optional_list(_rsi(as_finite_series(values), period))


def macd(values: SeriesLike, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdSeries:
    """MACD line (EMA fast - EMA slow), its EMA signal line and the histogram (line - signal)."""
    require_int_at_least(fast, 1, "fast")
    require_int_at_least(slow, 2, "slow")
    require_int_at_least(signal, 1, "signal")
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
    line, sig, hist = _macd(as_finite_series(values), fast, slow, signal)
    return MacdSeries(macd=to_optional_list(line), signal=to_optional_list(sig), histogram=to_optional_list(hist))


def bollinger(values: SeriesLike, window: int = 20, num_std: float = 2.0) -> BollingerBands:
    """Bollinger bands: SMA(window) +/- num_std population standard deviations."""
    require_int_at_least(window, 1, "window")
    if not num_std >= 0.0:  # also rejects NaN
        raise ValueError(f"num_std must be >= 0, got {num_std!r}")
    middle, upper, lower = _bollinger(as_finite_series(values), window, num_std)
    return BollingerBands(middle=to_optional_list(middle), upper=to_optional_list(upper), lower=to_optional_list(lower))


def _last(arr: FloatArray) -> float | None:
    value = float(arr[-1])
    return None if np.isnan(value) else value


def technical_signal(closes: SeriesLike) -> TechnicalAnalysis:
    """Summarise the latest RSI/MACD/Bollinger/SMA readings of `closes` into a buy/sell/hold signal with reasons."""
    x = as_finite_series(closes, "closes")
    if x.size == 0:
        raise ValueError("closes must not be empty")
    close = float(x[-1])
    sma20, sma50 = _last(_sma(x, 20)), _last(_sma(x, 50))
    rsi14 = _last(_rsi(x, 14))
    line, sig, hist = _macd(x, 12, 26, 9)
    middle, upper, lower = _bollinger(x, 20, 2.0)
    bb_upper, bb_lower = _last(upper), _last(lower)

    score = 0.0
    reasons: list[str] = []

    if rsi14 is None:
        reasons.append("RSI(14) needs at least 15 closes")
    elif rsi14 < RSI_OVERSOLD:
        score += 1.0
        reasons.append(f"RSI(14) {rsi14:.1f} < {RSI_OVERSOLD:.0f}: oversold")
    elif rsi14 > RSI_OVERBOUGHT:
        score -= 1.0
        reasons.append(f"RSI(14) {rsi14:.1f} > {RSI_OVERBOUGHT:.0f}: overbought")

    # A cross needs the histogram on the last two bars: a sign change means the MACD line crossed its signal line.
    if x.size >= 2 and not np.isnan(hist[-2]) and not np.isnan(hist[-1]):
        prev_hist, cur_hist = float(hist[-2]), float(hist[-1])
        if prev_hist <= 0.0 < cur_hist:
            score += 1.0
            reasons.append("MACD crossed above its signal line (bullish cross)")
        elif prev_hist >= 0.0 > cur_hist:
            score -= 1.0
            reasons.append("MACD crossed below its signal line (bearish cross)")
    else:
        reasons.append("MACD cross needs at least 35 closes")

    if bb_upper is None or bb_lower is None:
        reasons.append("Bollinger bands need at least 20 closes")
    elif close < bb_lower:
        score += 1.0
        reasons.append(f"Close {close:g} below lower Bollinger band {bb_lower:.2f}: stretched to the downside")
    elif close > bb_upper:
        score -= 1.0
        reasons.append(f"Close {close:g} above upper Bollinger band {bb_upper:.2f}: stretched to the upside")

    if sma20 is None or sma50 is None:
        reasons.append("SMA20/SMA50 trend needs at least 50 closes")
    elif sma20 > sma50:
        score += TREND_WEIGHT
        reasons.append("SMA20 above SMA50: uptrend")
    elif sma20 < sma50:
        score -= TREND_WEIGHT
        reasons.append("SMA20 below SMA50: downtrend")

    verdict: Literal["buy", "sell", "hold"]
    if score >= BUY_THRESHOLD:
        verdict = "buy"
    elif score <= SELL_THRESHOLD:
        verdict = "sell"
    else:
        verdict = "hold"
        reasons.append(f"Score {score:+.1f} is inside ({SELL_THRESHOLD:+.0f}, {BUY_THRESHOLD:+.0f}): no clear signal")

    return TechnicalAnalysis(
        close=close,
        sma20=sma20,
        sma50=sma50,
        ema12=_last(_ema(x, 12)),
        ema26=_last(_ema(x, 26)),
        rsi14=rsi14,
        macd=_last(line),
        macd_signal=_last(sig),
        macd_histogram=_last(hist),
        bollinger_upper=bb_upper,
        bollinger_middle=_last(middle),
        bollinger_lower=bb_lower,
        score=score,
        signal=verdict,
        reasons=reasons,
    )
