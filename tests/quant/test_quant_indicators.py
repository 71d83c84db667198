"""Indicators are checked against naive re-implementations and hand-computed values, never against their own output."""

import json
import math
import statistics

import pytest

from quant.indicators import bollinger, ema, macd, rsi, sma, technical_signal

CLOSES = [
    44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28,
    46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57,
    43.42, 42.66, 43.13,
]  # fmt: skip


def naive_sma(values: list[float], window: int) -> list[float | None]:
    return [None if i + 1 < window else sum(values[i + 1 - window : i + 1]) / window for i in range(len(values))]


def naive_ema(values: list[float], span: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    if len(values) < span:
        return out
    alpha = 2 / (span + 1)
    prev = sum(values[:span]) / span
    out[span - 1] = prev
    for i in range(span, len(values)):
        prev = alpha * values[i] + (1 - alpha) * prev
        out[i] = prev
    return out


def naive_rsi(values: list[float], period: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    gains = [max(values[i] - values[i - 1], 0.0) for i in range(1, len(values))]
    losses = [max(values[i - 1] - values[i], 0.0) for i in range(1, len(values))]
    avg_gain = avg_loss = 0.0
    for i in range(len(gains)):
        if i < period - 1:
            continue
        if i == period - 1:
            avg_gain, avg_loss = sum(gains[:period]) / period, sum(losses[:period]) / period
        else:
            avg_gain = (avg_gain * (period - 1) + gains[i]) / period
            avg_loss = (avg_loss * (period - 1) + losses[i]) / period
        out[i + 1] = 100.0 if avg_loss == 0 else 100 - 100 / (1 + avg_gain / avg_loss)
    return out


def naive_macd_histogram(values: list[float]) -> dict[int, float]:
    """Histogram by bar index, only where defined."""
    fast, slow = naive_ema(values, 12), naive_ema(values, 26)
    line = [f - s for f, s in zip(fast, slow, strict=True) if f is not None and s is not None]  # starts at bar 25
    sig = naive_ema(line, 9)
    return {25 + k: m - s for k, (m, s) in enumerate(zip(line, sig, strict=True)) if s is not None}


def assert_series_close(actual: list[float | None], expected: list[float | None], rel: float = 1e-12) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None:
            assert a is None
        else:
            assert a == pytest.approx(e, rel=rel, abs=1e-12)


def test_sma_matches_a_naive_loop_and_is_none_during_warm_up() -> None:
    for window in (1, 3, 10, 33):
        assert_series_close(sma(CLOSES, window), naive_sma(CLOSES, window))
    assert sma(CLOSES, 34) == [None] * len(CLOSES)


def test_ema_on_a_hand_computed_series_is_seeded_with_the_first_sma() -> None:
    # span 3 -> alpha 0.5; seed mean(1, 2, 3) = 2; then 0.5*4 + 0.5*2 = 3 and 0.5*5 + 0.5*3 = 4.
    assert ema([1.0, 2.0, 3.0, 4.0, 5.0], 3) == [None, None, 2.0, 3.0, 4.0]


def test_ema_matches_a_naive_recursion_for_several_spans() -> None:
    for span in (1, 2, 5, 12, 26):
        assert_series_close(ema(CLOSES, span), naive_ema(CLOSES, span))


def test_rsi_matches_wilder_smoothing_on_a_known_series() -> None:
    assert_series_close(rsi(CLOSES, 14), naive_rsi(CLOSES, 14))
    assert_series_close(rsi(CLOSES, 5), naive_rsi(CLOSES, 5))


def test_rsi_on_a_four_bar_series_equals_the_hand_computation() -> None:
    # Changes +1, -1, +2. First averages (period 2): gain 0.5, loss 0.5 -> RSI 50.
    # Wilder step: gain (0.5*1 + 2)/2 = 1.25, loss (0.5*1 + 0)/2 = 0.25 -> RS 5 -> RSI 100 - 100/6.
    values = rsi([1.0, 2.0, 1.0, 3.0], period=2)
    assert values[:2] == [None, None]
    assert values[2] == pytest.approx(50.0)
    assert values[3] == pytest.approx(100 - 100 / 6)


def test_rsi_is_100_for_a_rising_series_and_50_for_a_flat_one() -> None:
    assert rsi([float(i) for i in range(20)], 14)[-1] == 100.0
    assert rsi([7.0] * 20, 14)[-1] == 50.0


def test_bollinger_bands_use_the_population_standard_deviation() -> None:
    bands = bollinger(CLOSES, window=20, num_std=2.0)
    for i in range(len(CLOSES)):
        if i < 19:
            assert bands.middle[i] is None and bands.upper[i] is None and bands.lower[i] is None
            continue
        window = CLOSES[i - 19 : i + 1]
        mean, sd = statistics.fmean(window), statistics.pstdev(window)
        assert bands.middle[i] == pytest.approx(mean, rel=1e-12)
        assert bands.upper[i] == pytest.approx(mean + 2 * sd, rel=1e-12)
        assert bands.lower[i] == pytest.approx(mean - 2 * sd, rel=1e-12)


def test_macd_signal_and_histogram_match_naive_emas() -> None:
    closes = [100 + 10 * math.sin(i / 7) + 0.05 * i for i in range(120)]
    result = macd(closes, 12, 26, 9)
    fast, slow = naive_ema(closes, 12), naive_ema(closes, 26)
    line = [None if s is None or f is None else f - s for f, s in zip(fast, slow, strict=True)]
    padding: list[float | None] = [None] * 25
    signal = padding + naive_ema([x for x in line if x is not None], 9)
    hist = [None if m is None or s is None else m - s for m, s in zip(line, signal, strict=True)]
    assert_series_close(result.macd, line, rel=1e-9)
    assert_series_close(result.signal, signal, rel=1e-9)
    assert_series_close(result.histogram, hist, rel=1e-7)
    # Warm-up: the MACD line needs 26 closes, the signal 9 MACD values more.
    assert result.macd.index(next(x for x in result.macd if x is not None)) == 25
    assert result.signal.index(next(x for x in result.signal if x is not None)) == 33


def test_indicators_reject_nan_and_bad_windows() -> None:
    with pytest.raises(ValueError):
        sma([1.0, float("nan"), 2.0], 2)
    with pytest.raises(ValueError):
        sma([1.0, 2.0], 0)
    with pytest.raises(ValueError):
        macd(CLOSES, 26, 12, 9)


def test_technical_signal_flags_an_overbought_uptrend_without_calling_it_a_buy() -> None:
    closes = [100 * 1.01**i for i in range(60)]
    ta = technical_signal(closes)
    # Only gains -> RSI 100 (overbought, -1); exponential growth -> SMA20 > SMA50 (+0.5); no band break, no MACD cross.
    assert ta.rsi14 == 100.0
    assert ta.sma20 == pytest.approx(statistics.fmean(closes[-20:]))
    assert ta.sma50 == pytest.approx(statistics.fmean(closes[-50:]))
    assert ta.score == pytest.approx(-0.5)
    assert ta.signal == "hold"
    assert any("overbought" in r for r in ta.reasons)
    assert any("uptrend" in r for r in ta.reasons)


def test_technical_signal_says_buy_after_a_capitulation_drop_below_the_lower_band() -> None:
    # An accelerating decline (every bar down) ending in a 20% drop.
    closes = [100 - 0.01 * i * i for i in range(60)]
    closes.append(closes[-1] * 0.8)
    ta = technical_signal(closes)
    window = closes[-20:]
    lower = statistics.fmean(window) - 2 * statistics.pstdev(window)
    assert closes[-1] < lower  # one outlier among 20 sits sqrt(19) > 2 population std away
    assert ta.bollinger_lower == pytest.approx(lower)
    hist = naive_macd_histogram(closes)
    macd_vote = 1.0 if hist[59] <= 0 < hist[60] else -1.0 if hist[59] >= 0 > hist[60] else 0.0
    assert macd_vote == 0.0  # the decline was already accelerating, so the MACD was below its signal before the drop
    # RSI 0 since every bar fell (+1), below the lower band (+1), SMA20 < SMA50 (-0.5).
    assert ta.rsi14 == 0.0
    assert ta.score == pytest.approx(1.0 + 1.0 - 0.5 + macd_vote)
    assert ta.signal == "buy"
    assert any("oversold" in r for r in ta.reasons)
    assert any("downtrend" in r for r in ta.reasons)


def test_technical_signal_counts_the_bearish_macd_cross_of_a_sudden_drop_after_a_decelerating_decline() -> None:
    closes = [100 * 0.99**i for i in range(60)]
    closes.append(closes[-1] * 0.8)
    hist = naive_macd_histogram(closes)
    assert hist[59] > 0 > hist[60]  # a geometric decline decelerates in price terms, so MACD sat above its signal
    ta = technical_signal(closes)
    assert any("crossed below" in r for r in ta.reasons)
    assert ta.score == pytest.approx(1.0 + 1.0 - 0.5 - 1.0)
    assert ta.signal == "hold"


def test_technical_signal_reports_a_bullish_macd_cross_on_the_bar_where_it_happens() -> None:
    closes = [100 + 10 * math.sin(i / 6) for i in range(200)]
    hist = naive_macd_histogram(closes)
    cross = next(i for i in sorted(hist) if i - 1 in hist and hist[i - 1] <= 0 < hist[i])
    ta = technical_signal(closes[: cross + 1])
    assert any("crossed above" in r for r in ta.reasons)
    assert ta.macd_histogram is not None and ta.macd_histogram > 0


def test_technical_signal_with_short_history_is_json_serialisable_with_nulls() -> None:
    ta = technical_signal([10.0, 10.5, 10.2])
    dumped = ta.model_dump(mode="json")
    json.dumps(dumped, allow_nan=False)
    assert dumped["sma50"] is None and dumped["rsi14"] is None
    assert ta.signal == "hold"
