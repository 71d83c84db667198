"""Validation of Tokyo Stock Exchange ticker symbols."""

from __future__ import annotations

import re

from market.errors import InvalidSymbolError

# Yahoo Finance spelling of a TSE listing: the 4-digit securities code plus the ".T" exchange suffix.
_SYMBOL_RE = re.compile(r"[0-9]{4}\.T")


def validate_symbol(symbol: str) -> str:
    """Return ``symbol`` unchanged if it looks like ``7203.T``, else raise ``InvalidSymbolError``."""
    # fullmatch, not match: "7203.TX" or "7203.T\n" must not slip through.
    if not isinstance(symbol, str) or _SYMBOL_RE.fullmatch(symbol) is None:
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: expected a Tokyo Stock Exchange code of 4 digits plus '.T', e.g. '7203.T'"
        )
    return symbol
