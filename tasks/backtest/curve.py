"""Bounding an equity curve for a JSON result without changing what it says about drawdown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_CURVE_POINTS = 1_000


def drawdown_extremes(equity: Sequence[float]) -> tuple[int, int]:
    """Indices (peak, trough) of the largest peak-to-trough fall; (0, 0) when the curve never falls."""
    e = np.asarray(equity, dtype=np.float64)
    peaks = np.maximum.accumulate(e)
    falls = np.divide(peaks - e, peaks, out=np.zeros_like(e), where=peaks > 0.0)
    trough = int(np.argmax(falls))
    return int(np.argmax(e[: trough + 1])), trough


def keep_indices(equity: Sequence[float], limit: int = MAX_CURVE_POINTS) -> list[int]:
    """At most `limit` (>= 4) indices: evenly spaced, plus first, last and the max-drawdown peak and trough.

    Keeping the peak and trough makes the max drawdown of the thinned curve equal that of the full one.
    """
    n = len(equity)
    if n <= limit:
        return list(range(n))
    peak, trough = drawdown_extremes(equity)
    must = {0, n - 1, peak, trough}
    spaced = np.linspace(0, n - 1, limit - len(must)).round().astype(int).tolist()
    return sorted(must.union(spaced))
