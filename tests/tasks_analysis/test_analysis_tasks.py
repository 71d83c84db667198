"""The analysis tasks through the real session worker: technical numbers, sentiment, the multi-model chord, errors."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import statistics
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.result import AsyncResult

from base.keys import AppKeys
from base.settings import get_settings
from market import Bar, SyntheticProvider
from progress import ProgressStore, TaskRecord, TaskStatus
from tests.helpers import wait_until
from tracking.errors import InvalidTaskArguments
from worker import app, load_tasks

load_tasks()
from tasks.analysis.store import analysis_results  # noqa: E402
from tasks.analysis.tasks import multi_model_analysis, sentiment_analysis, stock_technical_analysis  # noqa: E402
from tasks.market.store import save_bars  # noqa: E402

pytestmark = pytest.mark.integration

SYMBOL = "7203.T"
END = dt.date(2025, 6, 30)


@pytest.fixture
def keys() -> AppKeys:
    return AppKeys(get_settings().namespace)


@pytest.fixture
def stored_bars(worker_store: ProgressStore) -> list[Bar]:
    """A year of bars stored for SYMBOL, as the market data tasks would store them."""
    bars = SyntheticProvider().fetch(SYMBOL, "1y", end=END)
    save_bars(SYMBOL, bars)
    return bars


@pytest.fixture
def inbox(worker_store: ProgressStore, keys: AppKeys) -> Iterator[redis.client.PubSub]:
    """A subscription to user alice's analysis results."""
    sub = worker_store.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    sub.subscribe(keys.user_results_channel("alice"))
    yield sub
    sub.close()


def _ended(store: ProgressStore, task_id: str) -> TaskRecord:
    def check() -> TaskRecord | None:
        rec = store.get_task_status(task_id)
        return rec if rec is not None and rec.status.is_terminal else None

    record = wait_until(check, timeout=30, what=f"task {task_id} to end")
    assert record is not None
    return record


# --- independent reference implementations (plain loops, no numpy, no quant) -------------------------------------

def naive_ema(values: list[float], span: int) -> list[float]:
    """EMA values from index span-1 on, seeded with the mean of the first `span` values."""
    k = 2.0 / (span + 1)
    out = [sum(values[:span]) / span]
    for v in values[span:]:
        out.append(k * v + (1 - k) * out[-1])
    return out


def naive_rsi(closes: list[float], period: int = 14) -> float:
    gains = [max(b - a, 0.0) for a, b in itertools.pairwise(closes)]
    losses = [max(a - b, 0.0) for a, b in itertools.pairwise(closes)]
    avg_gain, avg_loss = sum(gains[:period]) / period, sum(losses[:period]) / period
    for g, lo in zip(gains[period:], losses[period:], strict=True):
        avg_gain = (avg_gain * (period - 1) + g) / period
        avg_loss = (avg_loss * (period - 1) + lo) / period
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def expected_indicators(closes: list[float]) -> dict[str, float]:
    ema12, ema26 = naive_ema(closes, 12), naive_ema(closes, 26)
    line = [a - b for a, b in zip(ema12[26 - 12:], ema26, strict=True)]  # both aligned to closes[25:]
    signal = naive_ema(line, 9)[-1]
    last20 = closes[-20:]
    mid, sd = statistics.fmean(last20), statistics.pstdev(last20)
    return {"sma20": mid, "sma50": statistics.fmean(closes[-50:]), "ema12": ema12[-1], "ema26": ema26[-1],
            "rsi14": naive_rsi(closes), "macd": line[-1], "macd_signal": signal, "macd_histogram": line[-1] - signal,
            "bollinger_upper": mid + 2 * sd, "bollinger_middle": mid, "bollinger_lower": mid - 2 * sd}


# --- technical ----------------------------------------------------------------------------------------------------

def test_technical_analysis_of_stored_bars_matches_indicators_computed_independently(
    stored_bars: list[Bar], worker_store: ProgressStore, keys: AppKeys, inbox: redis.client.PubSub,
) -> None:
    # Given a year of stored bars; When a 6-month analysis runs for user alice
    res = stock_technical_analysis.delay(symbol=SYMBOL, period="6mo", user_id="alice", ttl_s=3600)
    out = res.get(timeout=30)

    # Then it used the last 126 stored bars and its numbers are the reference loops' numbers
    closes = [b.close for b in stored_bars[-126:]]
    assert out["source"] == "stored" and out["bars"] == 126 and out["as_of"] == END.isoformat()
    assert out["first_date"] == stored_bars[-126].date.isoformat() and out["close"] == closes[-1]
    for name, value in expected_indicators(closes).items():
        assert out["indicators"][name] == pytest.approx(value, rel=1e-9), name
    assert out["signal"] in ("buy", "sell", "hold") and out["reasons"]

    # The record holds the results and the four steps, all done
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.symbol == SYMBOL
    # (the record keeps floats to 12 significant digits)
    def without_indicators(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k != "indicators"}

    assert without_indicators(rec.results) == without_indicators(out)
    assert rec.results["indicators"] == pytest.approx(out["indicators"], rel=1e-11)
    assert [(s.name, s.status) for s in rec.steps] == [
        (n, "success") for n in ("load_bars", "indicators", "signal", "store")
    ]
    # The result is stored with its TTL and indexed by its expiry
    assert analysis_results().get(res.id) == out
    ttl_ms = worker_store.redis.pttl(keys.analysis(res.id))
    assert 0 < ttl_ms <= 3_600_000
    expiry = analysis_results().expiry_ms(res.id)
    assert expiry is not None and abs(expiry - (ttl_ms + int(dt.datetime.now().timestamp() * 1000))) < 60_000
    # And alice heard about it
    msg = wait_until(lambda: inbox.get_message(timeout=0.2), what="the announcement")
    data = json.loads(msg["data"])
    assert data["analysis_id"] == res.id and data["kind"] == "technical" and data["signal"] == out["signal"]


def test_technical_analysis_without_stored_bars_uses_synthetic_bars(worker_store: ProgressStore) -> None:
    out = stock_technical_analysis.delay(symbol="6758.T").get(timeout=30)

    bars = SyntheticProvider().fetch("6758.T", "1y", end=dt.date.fromisoformat(out["as_of"]))
    closes = [b.close for b in bars]
    assert out["source"] == "synthetic" and out["bars"] == 252 == len(closes)
    assert out["close"] == closes[-1]
    assert out["indicators"]["sma20"] == pytest.approx(sum(closes[-20:]) / 20, rel=1e-12)
    assert out["indicators"]["rsi14"] == pytest.approx(naive_rsi(closes), rel=1e-9)


# --- sentiment ----------------------------------------------------------------------------------------------------

def test_sentiment_scores_japanese_and_negated_english_headlines_one_by_one(worker_store: ProgressStore) -> None:
    headlines = ["トヨタ、今期営業利益を上方修正　過去最高益へ", "Sony did not report strong earnings",
                 "会議は明日開催"]
    res = sentiment_analysis.delay(headlines=headlines, symbol=SYMBOL)
    out = res.get(timeout=30)

    ja, en, plain = out["headlines"]
    assert ja["label"] == "positive" and {m["term"] for m in ja["matches"]} >= {"上方修正"}
    assert en["label"] == "negative" and [(m["term"], m["negated"]) for m in en["matches"]] == [("strong", True)]
    assert plain["label"] == "neutral" and plain["score"] == 0.0
    assert out["score"] == pytest.approx((ja["score"] + en["score"] + plain["score"]) / 3)
    assert (out["n_positive"], out["n_negative"], out["n_neutral"]) == (1, 1, 1)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and (rec.progress.current, rec.progress.total) == (3, 3)


# --- multi-model --------------------------------------------------------------------------------------------------

def _children(parent: TaskRecord) -> dict[str, dict[str, Any]]:
    return {k.removeprefix("child:"): v for k, v in parent.processing_details.items() if k.startswith("child:")}


def test_multi_model_parent_completes_with_the_weighted_consensus_of_its_children(
    stored_bars: list[Bar], worker_store: ProgressStore, inbox: redis.client.PubSub,
) -> None:
    weights = {"technical": 2.0, "momentum": 1.0, "mean_reversion": 1.0, "sentiment": 0.5}
    res = multi_model_analysis.delay(symbol=SYMBOL, headlines=["増益で株価上昇"], weights=weights, period="6mo",
                                     user_id="alice")
    launched = res.get(timeout=30)
    parent = _ended(worker_store, res.id)

    # The parent completed once every child was counted; each child's final state is on the parent
    assert parent.status is TaskStatus.COMPLETED, parent.error_message
    assert (parent.progress.current, parent.progress.total) == (4, 4)
    children = _children(parent)
    assert set(children) == {c["task_id"] for c in launched["children"]}
    assert all(c["status"] == "completed" and c["task"] == "tasks.analysis.run_model" for c in children.values())
    for child in launched["children"]:
        assert worker_store.require(child["task_id"]).status is TaskStatus.COMPLETED

    # The consensus is the weighted mean of the per-model scores, and momentum's score is the 20-day return's
    out = analysis_results().get(res.id)
    assert out is not None and parent.results["consensus"] == out["consensus"]
    assert parent.results["score"] == pytest.approx(out["score"], rel=1e-11)
    models = out["models"]
    assert set(models) == set(weights) and out["failed"] == [] and out["used"] == list(weights)
    expected = sum(weights[m] * models[m]["score"] for m in weights) / sum(weights.values())
    assert out["score"] == pytest.approx(expected)
    assert out["consensus"] == ("buy" if expected >= 0.15 else "sell" if expected <= -0.15 else "hold")
    closes = [b.close for b in stored_bars[-126:]]
    assert models["momentum"]["score"] == pytest.approx(math.tanh((closes[-1] / closes[-21] - 1) / 0.10))
    assert models["sentiment"]["signal"] == "buy"
    msg = wait_until(lambda: inbox.get_message(timeout=0.2), what="the announcement")
    assert json.loads(msg["data"])["signal"] == out["consensus"]


def test_a_model_without_enough_bars_fails_alone_and_the_others_still_vote(worker_store: ProgressStore) -> None:
    # Given only 15 stored bars: enough for the technical model, too few for a 20-day momentum
    save_bars(SYMBOL, SyntheticProvider().fetch(SYMBOL, "1mo", end=END)[-15:])
    res = multi_model_analysis.delay(symbol=SYMBOL, models=["technical", "momentum"])
    launched = {c["model"]: c["task_id"] for c in res.get(timeout=30)["children"]}
    parent = _ended(worker_store, res.id)

    assert parent.status is TaskStatus.COMPLETED and parent.progress.current == 2
    assert parent.results["used"] == ["technical"] and parent.results["failed"] == ["momentum"]
    assert "needs 21 closes, got 15" in parent.results["models"]["momentum"]["error"]
    children = _children(parent)
    assert children[launched["momentum"]]["status"] == "error"
    assert children[launched["technical"]]["status"] == "completed"
    failed_child = worker_store.require(launched["momentum"])
    assert failed_child.status is TaskStatus.ERROR and "InsufficientData" in (failed_child.error_message or "")


def test_when_no_model_can_run_the_parent_ends_in_error(worker_store: ProgressStore) -> None:
    save_bars(SYMBOL, SyntheticProvider().fetch(SYMBOL, "1mo", end=END)[-10:])
    res = multi_model_analysis.delay(symbol=SYMBOL, models=["momentum", "mean_reversion"])
    res.get(timeout=30)
    parent = _ended(worker_store, res.id)

    assert parent.status is TaskStatus.ERROR and parent.progress.current == 2
    assert "no model produced a usable signal" in (parent.error_message or "")
    assert all(c["status"] == "error" for c in _children(parent).values())


def test_a_child_that_raises_fails_the_chord_and_its_error_callback_ends_the_parent(
    worker_store: ProgressStore, keys: AppKeys,
) -> None:
    # Given corrupt stored bars: every price model raises while loading them; sentiment does not need bars
    worker_store.redis.hset(keys.bars(SYMBOL), "2025-06-30", "{not json")
    res = multi_model_analysis.delay(symbol=SYMBOL, headlines=["増益"])
    launched = {c["model"]: c["task_id"] for c in res.get(timeout=30)["children"]}
    parent = _ended(worker_store, res.id)

    assert parent.status is TaskStatus.ERROR and parent.progress.current == 4
    assert parent.error_message is not None and parent.error_message.startswith("multi-model analysis failed")
    for model in ("technical", "momentum", "mean_reversion"):
        assert f"{model}: ValidationError" in parent.error_message
    states = {m: _children(parent)[cid]["status"] for m, cid in launched.items()}
    assert states == {"technical": "error", "momentum": "error", "mean_reversion": "error", "sentiment": "completed"}
    assert sorted(parent.processing_details["failed_children"]) == sorted(
        launched[m] for m in ("technical", "momentum", "mean_reversion"))


# --- invalid arguments --------------------------------------------------------------------------------------------

def test_invalid_arguments_fail_in_the_caller_at_once(worker_store: ProgressStore) -> None:
    with pytest.raises(InvalidTaskArguments) as err:
        stock_technical_analysis.delay(symbol="TOYOTA")
    assert err.value.errors[0]["field"] == "symbol"
    assert worker_store.get_tasks_list().pagination.total == 0


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("tasks.analysis.stock_technical_analysis", {"symbol": "7203.T", "period": "10y"}, "period"),
        ("tasks.analysis.sentiment_analysis", {"headlines": ["ok", "x" * 1001]}, "headlines.1"),
        ("tasks.analysis.multi_model_analysis", {"symbol": "7203.T", "models": ["sentiment"]}, "headlines"),
    ],
)
def test_invalid_arguments_sent_by_name_end_the_record_in_error_naming_the_field(
    worker_store: ProgressStore, name: str, kwargs: dict[str, Any], field: str,
) -> None:
    res = app.send_task(name, kwargs=kwargs)
    # The client sees the worker's InvalidTaskArguments as a plain Exception carrying its text.
    with pytest.raises(Exception, match=f"invalid arguments for {name}: {field}:"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert [e["field"] for e in rec.processing_details["validation_errors"]] == [field]
    assert AsyncResult(res.id, app=app).state == "FAILURE"
