"""Conversions between caller-supplied sequences and the float arrays used internally."""

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
SeriesLike = Sequence[float] | FloatArray


def as_finite_series(values: SeriesLike, name: str = "values") -> FloatArray:
    """Return `values` as a 1-D float64 array, rejecting NaN/inf and non-1-D input."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    # Missing data must be handled by the caller: silently propagating NaN would poison every later value.
    if not bool(np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must contain only finite numbers")
    return arr


def to_optional_list(arr: FloatArray) -> list[float | None]:
    """Convert an array whose NaNs mark 'not yet defined' into a JSON-safe list with None."""
    return [None if math.isnan(v) else v for v in arr.tolist()]


def require_int_at_least(value: int, minimum: int, name: str) -> None:
    """Raise ValueError unless `value` is an int (not bool) that is >= `minimum`."""
    # bool is an int subclass; window=True is always a caller bug.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
