"""The aggregate of a watch-list refresh: what the batch's record shows when its chord callback completes it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SymbolOutcome(BaseModel):
    """One symbol of the batch: whether its fetch succeeded, what it stored, or why it failed."""

    success: bool
    records_saved: int = 0
    records_skipped: int = 0
    last_price: float | None = None
    error: str | None = None


class BatchSummary(BaseModel):
    """Totals over the batch's children and each symbol's outcome."""

    symbols: int
    succeeded: int
    failed: int
    records_saved: int
    records_skipped: int
    success_rate: float
    per_symbol: dict[str, SymbolOutcome]
    failures: dict[str, str]  # symbol -> why it failed


def _outcome(result: dict[str, Any]) -> SymbolOutcome:
    if result.get("success") is False:
        return SymbolOutcome(success=False, error=str(result.get("error") or "failed"))
    return SymbolOutcome(success=True, records_saved=int(result.get("records_saved", 0)),
                         records_skipped=int(result.get("records_skipped", 0)),
                         last_price=result.get("last_price"))


def summarize(results: list[dict[str, Any]], symbols: list[str]) -> BatchSummary:
    """Aggregates the children's results (chord order = `symbols` order); a missing result counts as a failure."""
    per_symbol: dict[str, SymbolOutcome] = {}
    for i, symbol in enumerate(symbols):
        result = results[i] if i < len(results) and isinstance(results[i], dict) else None
        per_symbol[symbol] = _outcome(result) if result is not None else SymbolOutcome(success=False, error="no result")
    ok = [o for o in per_symbol.values() if o.success]
    return BatchSummary(
        symbols=len(symbols),
        succeeded=len(ok),
        failed=len(symbols) - len(ok),
        records_saved=sum(o.records_saved for o in ok),
        records_skipped=sum(o.records_skipped for o in ok),
        success_rate=round(len(ok) / len(symbols) * 100, 2) if symbols else 0.0,
        per_symbol=per_symbol,
        failures={s: o.error or "failed" for s, o in per_symbol.items() if not o.success},
    )
