"""Market data tasks (seed 004, queue `market_data`): fetch bars, refresh a watch list, price alerts, TSE hours.

Bars and latest prices are stored through tasks.market.store (other task families read them with `load_bars`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from celery import chord, group
from pydantic import BaseModel

from market import JST, MarketDataError, Period, evaluate, market_status
from progress import ProgressError
from progress.models import StepDefinition
from tasks.market.alerts import FiredAlert, PriceAlert, load_alerts, mark_fired, unfired, unmark_fired
from tasks.market.args import FetchArgs, FinishBatchArgs, HoursArgs, MonitorArgs, UpdateAllArgs
from tasks.market.batch import BatchSummary, summarize
from tasks.market.fetch import check_bars, download, make_provider
from tasks.market.settings import market_settings
from tasks.market.store import bar_store, last_price_of
from tracking.errors import TransientError
from tracking.task import ProgressTask
from worker import app
from worker.store import progress_store

log = logging.getLogger(__name__)

NOTIFY_TASK = "tasks.notifications.send_realtime_notification"
# Bars written per round trip: small enough that progress moves through a 5-year history, large enough to be cheap.
STORE_CHUNK = 50
_RETRY: dict[str, Any] = {"autoretry_for": (TransientError,), "retry_backoff": True, "retry_backoff_max": 60,
                          "max_retries": 3}


class FetchResult(BaseModel):
    """What fetch_data did: seed 001's records_saved / records_skipped / success_rate, and the details behind them."""

    symbol: str
    period: str
    provider: str
    success: bool = True
    records_received: int
    records_saved: int
    records_skipped: int
    records_unchanged: int
    records_invalid: int
    success_rate: float
    first_date: dt.date
    last_date: dt.date
    last_price: float
    change_percent: float | None
    price_published: bool
    invalid: dict[str, str]


# --- fetch_data -------------------------------------------------------------------------------------------------


@app.task(base=ProgressTask, bind=True, name="tasks.market_data.fetch_data", args_model=FetchArgs, **_RETRY)
def fetch_data(self: ProgressTask, symbol: str, period: str = "1y", provider: str | None = None,
               directory: str | None = None, end: dt.date | None = None,
               parent_task_id: str | None = None) -> dict[str, Any]:
    """Fetches daily bars through a provider, stores them with a TTL, sets and publishes the latest price."""
    try:
        return _fetch(self, symbol, Period.parse(period), provider, directory, end).model_dump(mode="json")
    except (MarketDataError, TransientError) as exc:
        last_try = not isinstance(exc, TransientError) or self.request.retries >= (self.max_retries or 0)
        if parent_task_id is None or not last_try:
            raise
        # A batch child: its own record ends `error`, but the chord gets a result so the batch still finishes.
        error = f"{type(exc).__name__}: {exc}"
        self.progress.fail(error)
        return {"symbol": symbol, "success": False, "error": error}


def _fetch(task: ProgressTask, symbol: str, period: Period, provider_name: str | None, directory: str | None,
           end: dt.date | None) -> FetchResult:
    progress = task.progress
    progress.define_steps([
        StepDefinition(name="download", estimated_ms=500), StepDefinition(name="validate", estimated_ms=20),
        StepDefinition(name="store", estimated_ms=100), StepDefinition(name="publish", estimated_ms=10),
    ])
    with progress.step("download"):
        provider = make_provider(provider_name, directory)
        received = download(provider, symbol, period, end)
    with progress.step("validate"):
        checked = check_bars(symbol, received, dt.datetime.now(JST).date())
        if not checked.bars:
            raise MarketDataError(f"{provider.name} returned no valid bars for {symbol} ({period.value})")
    store = bar_store()
    bars = checked.bars
    saved = 0
    with progress.step("store"):
        progress.update(0, total=len(bars), message=f"storing {len(bars)} bars of {symbol}")
        for start in range(0, len(bars), STORE_CHUNK):
            chunk = bars[start:start + STORE_CHUNK]
            saved += store.save_bars(symbol, chunk)
            progress.update(start + len(chunk), message=f"stored {start + len(chunk)}/{len(bars)} bars")
    with progress.step("publish"):
        latest = last_price_of(bars, dt.datetime.now(dt.UTC))
        published = store.set_last_price(latest)
    unchanged = len(bars) - saved
    return FetchResult(
        symbol=symbol, period=period.value, provider=provider.name,
        records_received=len(received), records_saved=saved, records_skipped=unchanged + checked.invalid_count,
        records_unchanged=unchanged, records_invalid=checked.invalid_count,
        # Unchanged bars count as a success: after a re-fetch they are stored and current.
        success_rate=round(len(bars) / len(received) * 100, 2),
        first_date=bars[0].date, last_date=bars[-1].date, last_price=latest.price,
        change_percent=latest.change_percent, price_published=published,
        invalid=dict(list(checked.invalid.items())[:50]),
    )


# --- update_all_stock_prices (a chord with one aggregate progress) ----------------------------------------------


def default_watchlist() -> list[str]:
    """TASKRUNNER_WATCHLIST plus every symbol that has a stored alert."""
    alerts, _ = load_alerts()
    return list(dict.fromkeys([*market_settings().watchlist, *sorted({a.symbol for a in alerts})]))


@app.task(base=ProgressTask, bind=True, name="tasks.market_data.update_all_stock_prices", args_model=UpdateAllArgs)
def update_all_stock_prices(self: ProgressTask, symbols: list[str] | None = None, period: str = "1mo",
                            provider: str | None = None, directory: str | None = None,
                            end: dt.date | None = None) -> dict[str, Any]:
    """Fetches every watched symbol in parallel; this task's record shows the whole batch's progress."""
    watch = symbols or default_watchlist()
    # A misconfigured provider fails the batch now, not in every child; the children get its name, so all agree.
    provider = make_provider(provider, directory).name
    parent = str(self.request.id)
    common = {"period": Period.parse(period).value, "provider": provider, "directory": directory,
              "end": None if end is None else end.isoformat(), "parent_task_id": parent}
    children = [fetch_data.signature(kwargs={"symbol": s, **common}).set(task_id=str(uuid.uuid4())) for s in watch]
    # The total is written before any child can finish: a child's +1 must never be overwritten by current=0.
    self.progress.update(0, total=len(watch), message=f"fetching {len(watch)} symbols")
    self.progress.flush()
    callback = finish_batch.signature(kwargs={"parent_task_id": parent, "symbols": watch})
    callback = callback.on_error(batch_failed.signature(kwargs={"parent_task_id": parent}))
    result = chord(group(children), callback).apply_async()
    # From here the children and the callback own this record; writing to it again could undo their counts.
    self.progress.handoff()
    return {"batch": getattr(result.parent, "id", None), "callback": result.id,
            "parent_task_id": parent, "children": [c.id for c in children], "symbols": watch}


@app.task(base=ProgressTask, bind=True, name="tasks.market_data.finish_batch", args_model=FinishBatchArgs,
          internal="the chord callback of update_all_stock_prices")
def finish_batch(self: ProgressTask, results: list[dict[str, Any]], parent_task_id: str,
                 symbols: list[str]) -> dict[str, Any]:
    """Chord callback: completes the batch's record with the aggregate of its children's results."""
    self.progress.update(0, total=1, message=f"summarizing {len(results)} results")
    summary: BatchSummary = summarize(results, symbols)
    status, error = ("completed", None) if summary.succeeded else ("error", f"all {summary.symbols} fetches failed")
    message = f"{summary.succeeded}/{summary.symbols} symbols updated, {summary.records_saved} bars saved"
    try:
        progress_store().update_progress(parent_task_id, status, current_items=len(results), message=message,
                                         error_message=error, results=summary.model_dump(mode="json"))
    except ProgressError as exc:
        log.warning("batch %s: could not complete its record: %s", parent_task_id, exc)
    self.progress.update(1)
    return {"parent_task_id": parent_task_id, "status": status, "succeeded": summary.succeeded,
            "failed": summary.failed}


@app.task(name="tasks.market_data.batch_failed", internal="the error callback of update_all_stock_prices")
def batch_failed(request: Any, exc: BaseException, traceback: Any, parent_task_id: str) -> None:
    """Chord error callback: a child failed unexpectedly (a bug, a killed process), so the batch ends `error`."""
    try:
        progress_store().update_progress(parent_task_id, "error", message="batch failed",
                                         error_message=f"batch failed: {type(exc).__name__}: {exc}")
    except ProgressError as err:
        log.warning("batch %s: could not record its failure: %s", parent_task_id, err)


# --- price alerts -----------------------------------------------------------------------------------------------


@app.task(base=ProgressTask, bind=True, name="tasks.market_data.price_alert_monitor", args_model=MonitorArgs,
          internal="a system-wide job whose results name every user's alerts", **_RETRY)
def price_alert_monitor(self: ProgressTask) -> dict[str, Any]:
    """Checks every stored alert against the latest prices; notifies the user of each alert that fires, once."""
    alerts, invalid = load_alerts()
    prices = bar_store().last_prices()
    armed = set(unfired([a.id for a in alerts]))
    fired: dict[str, dict[str, Any]] = {}  # alert id -> what fired it
    no_price: dict[str, str] = {}  # alert id -> its symbol, which has no stored price yet
    self.progress.update(0, total=len(alerts), message=f"checking {len(alerts)} alerts")
    for done, alert in enumerate(alerts, start=1):
        price = prices.get(alert.symbol)
        if alert.id in armed and price is None:
            no_price[alert.id] = alert.symbol
        elif alert.id in armed and price is not None:
            outcome = _check_alert(alert, price.price, price.date)
            if outcome is not None:
                fired[alert.id] = outcome.model_dump(mode="json")
        self.progress.update(done, message=f"checked {done}/{len(alerts)} alerts, {len(fired)} fired")
    return {"alerts": len(alerts), "checked": len(armed) - len(no_price), "fired": fired,
            "already_fired": len(alerts) - len(armed), "no_price": no_price,
            "invalid": {alert_id: "stored alert does not validate" for alert_id in invalid}}


def _check_alert(alert: PriceAlert, price: float, day: dt.date) -> FiredAlert | None:
    """Evaluates one alert; if it fires and nobody marked it first, marks it and sends the notification."""
    outcome = evaluate(alert, price)
    if not outcome.fired:
        return None
    fired = FiredAlert(alert_id=alert.id, user_id=alert.user_id, symbol=alert.symbol, price=price, price_date=day,
                       message=outcome.message, fired_at=dt.datetime.now(dt.UTC),
                       notification_task_id=str(uuid.uuid4()))
    if not mark_fired(fired):
        return None  # another monitor run fired it between our read and now
    data = {"alert_id": alert.id, "symbol": alert.symbol, "kind": alert.kind, "threshold": alert.threshold,
            "price": price, "date": day.isoformat(), "change_percent": outcome.change_percent}
    try:
        app.send_task(NOTIFY_TASK, task_id=fired.notification_task_id, kwargs={
            "user_id": alert.user_id, "type": "warning", "title": f"Price alert: {alert.symbol}",
            "message": outcome.message, "data": data,
        })
    except Exception as exc:
        # Re-arm, so a broker outage delays the notification instead of losing it.
        unmark_fired(alert.id)
        raise TransientError(f"could not send the notification of alert {alert.id}: {exc}") from exc
    return fired


# --- market hours -----------------------------------------------------------------------------------------------


@app.task(base=ProgressTask, bind=True, name="tasks.market_data.market_hours_check", args_model=HoursArgs)
def market_hours_check(self: ProgressTask, at: dt.datetime | None = None) -> dict[str, Any]:
    """Whether the Tokyo Stock Exchange is open at `at` (default now): market.calendar's MarketStatus as JSON."""
    self.progress.update(0, total=1, message="checking the TSE calendar")
    status = market_status(at or dt.datetime.now(JST))
    self.progress.update(1, message=status.reason)
    dumped: dict[str, Any] = status.model_dump(mode="json")
    return dumped
