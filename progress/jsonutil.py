"""Compact JSON encoding shared by the store and its scripts."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    """Compact JSON that refuses NaN (Lua's cjson and browsers cannot read it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)


def _default(value: Any) -> Any:
    # numpy scalars and similar expose .item(); datetimes and the like become their ISO text.
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
