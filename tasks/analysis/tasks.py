"""Analysis tasks (seed 004, queue `ai_analysis`): technical, sentiment, multi-model consensus, and cleanup.

Every finished analysis is stored under AppKeys.analysis(id) with a TTL, indexed by expiry for
`cleanup_expired_analysis`, and announced on the user's results channel when a user_id was given.

A multi-model analysis is a Celery chord: one `run_model` child per model, each reporting to the parent record
(`parent_task_id`), then `finish_consensus`, which completes the parent. A model that cannot run on its data
(InsufficientData) ends its own record as `error` and returns an error result, so the others still form a
consensus; anything else a child raises fails the chord, and the chord's error callback (`consensus_failed`)
ends the parent as `error`. Either way the parent never stays running.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from celery import chord, group

from market import JST
from progress import StepDefinition, TaskStatus
from quant import bollinger, ema, macd, rsi, score_headline, sma, technical_signal
from quant.sentiment import HeadlineSentiment, SentimentReport, aggregate
from tasks.analysis.args import (
    CleanupArgs,
    ConsensusArgs,
    Headlines,
    ModelArgs,
    MultiModelArgs,
    PeriodName,
    SentimentArgs,
    TechnicalArgs,
)
from tasks.analysis.models import InsufficientData, ModelSignal, NoUsableModel, consensus
from tasks.analysis.models import run_model as compute_model
from tasks.analysis.store import DEFAULT_TTL_S, analysis_results, now_ms
from tasks.market.bars import bars_for
from tracking.task import ProgressTask
from worker import app
from worker.store import progress_store

PRICE_MODELS = frozenset({"technical", "momentum", "mean_reversion"})


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, JST).isoformat()


def store_result(analysis_id: str, kind: str, payload: dict[str, Any], *, ttl_s: int, user_id: str | None,
                 at_ms: int | None = None) -> dict[str, Any]:
    """Stores an analysis result for `ttl_s` from `at_ms` (default now), announces it; returns it with its expiry."""
    expires = (now_ms() if at_ms is None else at_ms) + ttl_s * 1000
    result = {"analysis_id": analysis_id, "kind": kind, **payload, "expires_at": _iso(expires)}
    announcement = {"analysis_id": analysis_id, "kind": kind, "symbol": payload.get("symbol"),
                    "signal": payload.get("signal", payload.get("consensus", payload.get("label"))),
                    "score": payload.get("score"), "expires_at": result["expires_at"]}
    analysis_results().save(analysis_id, result, expires_at_ms=expires, user_id=user_id, announcement=announcement)
    return result


def latest_indicators(closes: list[float]) -> dict[str, float | None]:
    """The latest SMA, EMA, RSI (Wilder), MACD and Bollinger values of a close series (None while warming up)."""
    m = macd(closes)
    bands = bollinger(closes, 20, 2.0)
    return {
        "sma20": sma(closes, 20)[-1], "sma50": sma(closes, 50)[-1],
        "ema12": ema(closes, 12)[-1], "ema26": ema(closes, 26)[-1],
        "rsi14": rsi(closes, 14)[-1],
        "macd": m.macd[-1], "macd_signal": m.signal[-1], "macd_histogram": m.histogram[-1],
        "bollinger_upper": bands.upper[-1], "bollinger_middle": bands.middle[-1], "bollinger_lower": bands.lower[-1],
    }


# --- technical ------------------------------------------------------------------------------------------------

# Estimates give the record an ETA from the first step on (synthetic bars for 5 years dominate).
TECHNICAL_STEPS = [StepDefinition(name=name, estimated_ms=ms)
                   for name, ms in (("load_bars", 150), ("indicators", 30), ("signal", 30), ("store", 10))]


@app.task(base=ProgressTask, bind=True, name="tasks.analysis.stock_technical_analysis", args_model=TechnicalArgs)
def stock_technical_analysis(self: ProgressTask, symbol: str, period: PeriodName = "1y", user_id: str | None = None,
                             ttl_s: int = DEFAULT_TTL_S) -> dict[str, Any]:
    """SMA, EMA, RSI, MACD and Bollinger of a symbol's closes, and a buy/sell/hold signal with its reasons."""
    self.progress.define_steps(TECHNICAL_STEPS)
    with self.progress.step("load_bars"):
        data = bars_for(symbol, period)
        if not data.bars:
            raise InsufficientData(f"no bars for {symbol} ({period})")
    closes = data.closes
    with self.progress.step("indicators"):
        indicators = latest_indicators(closes)
    with self.progress.step("signal"):
        ta = technical_signal(closes)
    with self.progress.step("store"):
        payload = {"symbol": symbol, "period": period, "source": data.source, "bars": len(closes),
                   "first_date": data.bars[0].date.isoformat(), "as_of": data.bars[-1].date.isoformat(),
                   "close": closes[-1], "indicators": indicators, "signal": ta.signal, "score": ta.score,
                   "reasons": ta.reasons}
        return store_result(str(self.request.id), "technical", payload, ttl_s=ttl_s, user_id=user_id)


# --- sentiment ------------------------------------------------------------------------------------------------

@app.task(base=ProgressTask, bind=True, name="tasks.analysis.sentiment_analysis", args_model=SentimentArgs)
def sentiment_analysis(self: ProgressTask, headlines: list[str], symbol: str | None = None,
                       user_id: str | None = None, ttl_s: int = DEFAULT_TTL_S) -> dict[str, Any]:
    """Scores each headline (Japanese or English) with the shipped lexicon, then the mean and the label counts."""
    n = len(headlines)
    self.progress.update(0, total=n, message=f"scoring {n} headlines")
    scored: list[HeadlineSentiment] = []
    for i, text in enumerate(headlines, 1):
        scored.append(score_headline(text))
        self.progress.update(i, message=f"scored {i}/{n} headlines")
    report: SentimentReport = aggregate(scored)
    payload = {"symbol": symbol, **report.model_dump(mode="json")}
    return store_result(str(self.request.id), "sentiment", payload, ttl_s=ttl_s, user_id=user_id)


# --- multi-model ----------------------------------------------------------------------------------------------

@app.task(base=ProgressTask, bind=True, name="tasks.analysis.run_model", args_model=ModelArgs,
          internal="one model of multi_model_analysis")
def run_model(self: ProgressTask, model: str, symbol: str, period: PeriodName = "1y",
              headlines: Headlines | None = None, momentum_days: int = 20,
              parent_task_id: str | None = None) -> dict[str, Any]:
    """One model of a multi-model analysis; a model that cannot run on its data returns an error result."""
    self.progress.define_steps(["load_bars", "model"] if model in PRICE_MODELS else ["model"])
    closes: list[float] = []
    if model in PRICE_MODELS:
        with self.progress.step("load_bars"):
            closes = bars_for(symbol, period).closes
    try:
        with self.progress.step("model"):
            signal = compute_model(model, closes, headlines, momentum_days)
    except InsufficientData as exc:
        # The child's own record says error; the parent still gets a result so the other models can vote.
        self.progress.fail(f"InsufficientData: {exc}", message=f"{model} could not run")
        return ModelSignal(model=model, signal=None, score=None, error=str(exc)).model_dump(mode="json")
    return signal.model_dump(mode="json")


@app.task(base=ProgressTask, bind=True, name="tasks.analysis.multi_model_analysis", args_model=MultiModelArgs)
def multi_model_analysis(self: ProgressTask, symbol: str, models: list[str] | None = None,
                         headlines: list[str] | None = None,
                         weights: dict[str, float] | None = None, period: PeriodName = "1y", momentum_days: int = 20,
                         user_id: str | None = None, ttl_s: int = DEFAULT_TTL_S) -> dict[str, Any]:
    """Runs the models in parallel (a chord) and hands the record to the callback that forms the consensus."""
    parent = str(self.request.id)
    # The args model has resolved the default (price models, plus sentiment given headlines) before run() is called.
    models = list(models or ())
    given = weights or {}
    model_weights = {m: float(given.get(m, 1.0)) for m in models}
    children = {str(uuid.uuid4()): m for m in models}
    # Written before any child starts: a child's increment must never be overwritten by the parent's total.
    self.progress.update(0, total=len(models), message=f"running {len(models)} models",
                         details={"models": children, "weights": model_weights})
    self.progress.flush()
    header = group(
        run_model.s(model=m, symbol=symbol, period=period, headlines=headlines if m == "sentiment" else None,
                    momentum_days=momentum_days, parent_task_id=parent).set(task_id=cid)
        for cid, m in children.items()
    )
    body = finish_consensus.s(parent_task_id=parent, weights=model_weights, symbol=symbol, period=period,
                              user_id=user_id, ttl_s=ttl_s)
    body.link_error(consensus_failed.s(parent_task_id=parent))
    chord(header, body).apply_async()
    self.progress.handoff()
    return {"children": [{"task_id": cid, "model": m} for cid, m in children.items()]}


@app.task(name="tasks.analysis.finish_consensus", internal="the chord callback of multi_model_analysis")
def finish_consensus(results: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Chord callback: the weighted consensus of the children's results, written to the parent record."""
    args = ConsensusArgs.model_validate({"results": results, **kwargs})
    signals = [ModelSignal.model_validate(r) for r in args.results]
    store = progress_store()
    try:
        verdict = consensus(signals, args.weights)
    except NoUsableModel as exc:
        failed = {s.model: s.error for s in signals}
        store.update_progress(args.parent_task_id, TaskStatus.ERROR, current_items=len(signals),
                              error_message=str(exc), results={"symbol": args.symbol, "models": failed},
                              message="no model could run")
        return {"error": str(exc)}
    payload = {"symbol": args.symbol, "period": args.period, **verdict.model_dump(mode="json")}
    result = store_result(args.parent_task_id, "multi_model", payload, ttl_s=args.ttl_s, user_id=args.user_id)
    store.update_progress(args.parent_task_id, TaskStatus.COMPLETED, current_items=len(signals), results=result,
                          message=f"consensus: {verdict.consensus} ({verdict.score:+.2f})")
    return result


@app.task(name="tasks.analysis.consensus_failed", internal="the error callback of multi_model_analysis")
def consensus_failed(failed_task_id: str, parent_task_id: str) -> dict[str, Any]:
    """Chord error callback: ends the parent as `error`, naming the children that failed and why."""
    store = progress_store()
    parent = store.get_task_status(parent_task_id)
    details = parent.processing_details if parent is not None else {}
    failed: dict[str, str] = {}
    for key, child in details.items():
        if key.startswith("child:") and isinstance(child, dict) and child.get("status") != "completed":
            cid = key.removeprefix("child:")
            record = store.get_task_status(cid)
            failed[cid] = (record.error_message if record is not None else None) or str(child.get("status"))
    names = details.get("models", {}) if isinstance(details.get("models"), dict) else {}
    if failed:
        reason = "; ".join(f"{names.get(cid, cid)}: {err}" for cid, err in failed.items())
    else:
        reason = f"the consensus step failed (task {failed_task_id})"
    store.update_progress(parent_task_id, TaskStatus.ERROR, error_message=f"multi-model analysis failed: {reason}",
                          processing_details={"failed_children": sorted(failed)}, message="a model failed")
    return {"parent_task_id": parent_task_id, "failed_children": sorted(failed)}


# --- cleanup --------------------------------------------------------------------------------------------------

@app.task(base=ProgressTask, bind=True, name="tasks.analysis.cleanup_expired_analysis", args_model=CleanupArgs,
          internal="a Beat job")
def cleanup_expired_analysis(self: ProgressTask, batch: int = 500) -> dict[str, Any]:
    """Removes the analysis results past their TTL from the index (and their keys); returns how many."""
    results = analysis_results()
    now = now_ms()
    total = results.count_expired(now)
    self.progress.update(0, total=total, message=f"{total} expired analysis results")
    examined = removed = 0
    while True:
        seen, gone = results.remove_expired_batch(now, batch)
        if not seen:
            break
        examined, removed = examined + seen, removed + gone
        self.progress.update(min(examined, total), message=f"removed {removed} of {total}")
    self.progress.update(total)
    return {"removed": removed, "remaining": results.indexed(), "as_of": _iso(now)}
