"""Property-based tests of every task's argument model, found by enumerating the Celery app's ProgressTasks: any
JSON-ish arguments are either accepted (and survive the JSON trip to the worker unchanged) or refused with
InvalidTaskArguments whose errors each name a field and a reason. Then the worst refused inputs are sent by name to
the real session worker: it stays alive, and each record ends `error` naming the fields, after a single attempt.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from celery.result import AsyncResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress import ProgressStore, TaskStatus
from tests.helpers import wait_until
from tracking.errors import InvalidTaskArguments
from tracking.task import ProgressTask
from worker import app, load_tasks

if TYPE_CHECKING:
    from tests.security.conftest import Tally

load_tasks()
TASKS = sorted((t for t in app.tasks.values() if isinstance(t, ProgressTask) and t.args_model is not None),
               key=lambda t: t.name)
# Refused inputs found by the property test, kept for the worker test below (same module, run after it).
FOUND: list[tuple[int, str, tuple[Any, ...], dict[str, Any]]] = []

PLAUSIBLE_TEXT = [
    "7203.T", "6758.T", "9984.T", "7203", "^N225", "1y", "2y", "1mo", "6mo", "5y", "synthetic", "csv", "yfinance",
    "technical", "momentum", "mean_reversion", "sentiment", "sma_crossover", "rsi_mean_reversion", "min_variance",
    "max_sharpe", "info", "warning", "alice", "bob@example.com", "2024-01-04", "2999-01-01",
    "2024-01-04T09:00:00+09:00", "2024-01-04T09:00:00", "t-1", "batch-1", "good news", "", " ", "../../etc",
]
SURROGATE_TEXT = st.builds(lambda a, s: a + s, st.text(max_size=3),
                           st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
PLAUSIBLE = st.one_of(
    st.sampled_from(PLAUSIBLE_TEXT), st.integers(-5, 300), st.floats(-2, 200), st.booleans(),
    st.lists(st.sampled_from(PLAUSIBLE_TEXT[:6]), max_size=4),
    st.lists(st.floats(0.5, 200), min_size=1, max_size=5),
    st.dictionaries(st.sampled_from(["technical", "momentum", "sentiment", "x"]), st.floats(-1, 5), max_size=3),
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), SURROGATE_TEXT),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=6,
)
VALUES = st.one_of(PLAUSIBLE, PLAUSIBLE, JSONISH)


# Known-good arguments per task: most fuzzed inputs are these with a few values replaced (the near misses that find
# bugs); a task missing here is fuzzed from nothing.
VALID: dict[str, dict[str, Any]] = {
    "tasks.analysis.multi_model_analysis": {"symbol": "7203.T"},
    "tasks.analysis.run_model": {"model": "technical", "symbol": "7203.T"},
    "tasks.analysis.sentiment_analysis": {"headlines": ["good news"]},
    "tasks.analysis.stock_technical_analysis": {"symbol": "7203.T"},
    "tasks.backtest.monte_carlo_simulation": {"s0": 100.0, "mu": 0.05, "sigma": 0.2, "n_paths": 1000,
                                              "batch_size": 1000},
    "tasks.backtest.portfolio_optimization": {"symbols": ["7203.T", "6758.T"]},
    "tasks.backtest.strategy_backtest": {"symbol": "7203.T"},
    "tasks.diagnostics.count": {"n": 3},
    "tasks.diagnostics.flaky": {"failures": 0},
    "tasks.market_data.fetch_data": {"symbol": "7203.T"},
    "tasks.market_data.finish_batch": {"results": [], "parent_task_id": "p-1", "symbols": ["7203.T"]},
    "tasks.notifications.daily_summary_report": {"user_id": "alice"},
    "tasks.notifications.send_batch_notifications": {"user_ids": ["alice"], "title": "t", "message": "m",
                                                     "batch_id": "b-1"},
    "tasks.notifications.send_email_notification": {"to": "a@example.com", "subject": "s", "body": "b"},
    "tasks.notifications.send_realtime_notification": {"user_id": "alice", "title": "t", "message": "m"},
}


def _arguments(task: ProgressTask) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    assert task.args_model is not None
    names = list(task.args_model.model_fields)
    base = VALID.get(task.name, {})
    some = st.fixed_dictionaries({}, optional={n: VALUES for n in names})
    extra = st.dictionaries(st.one_of(st.text(max_size=8), SURROGATE_TEXT), VALUES, max_size=2)
    kwargs = st.one_of(
        st.builds(lambda changed: {**base, **changed}, some),
        st.builds(lambda changed: {**base, **changed}, some),
        some,
        st.builds(lambda a, b: {**base, **a, **b}, some, extra),
    )
    positional = st.one_of(st.just(()), st.just(()), st.lists(VALUES, max_size=len(names) + 2).map(tuple))
    return st.tuples(positional, kwargs)


def test_the_known_good_arguments_are_good() -> None:
    assert set(VALID) <= {t.name for t in TASKS}
    for task in TASKS:
        task.validate_arguments((), VALID.get(task.name, {}))


def _wire(value: Any) -> Any:
    """What a value becomes on its way through the broker (kombu's JSON keeps NaN, as Python's json does)."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arguments_are_accepted_whole_or_refused_naming_each_field(
    task: ProgressTask, fuzz_tally: Tally, data: st.DataObject
) -> None:
    model = task.args_model
    assert model is not None
    args, kwargs = data.draw(_arguments(task), label="arguments")
    names = set(model.model_fields) | set(kwargs) | {"__extra_positional__"}
    try:
        params = task.validate_arguments(args, kwargs)
    except InvalidTaskArguments as exc:
        fuzz_tally.add("task_arguments", accepted=False)
        assert exc.errors and exc.task_name == task.name
        for err in exc.errors:
            field = err["field"]
            assert field == "(arguments)" or any(field == n or field.startswith(f"{n}.") for n in names), err
            assert err["error"].strip(), err
        assert all(f"{e['field']}: {e['error']}" in str(exc) for e in exc.errors)
        # Celery ships the exception to the caller, and the worker stores the errors in the record as JSON.
        assert pickle.loads(pickle.dumps(exc)).errors == exc.errors
        json.dumps(exc.errors, ensure_ascii=False).encode("utf-8")
        FOUND.append((len(exc.errors), task.name, args, kwargs))
        return
    fuzz_tally.add("task_arguments", accepted=True)
    assert isinstance(params, model)
    # Accepted: what the API publishes (a JSON dump of the model) validates again in the worker to the same model.
    again = task.validate_arguments((), _wire(params.model_dump(mode="json")))
    assert again == params


# --- through the real worker ------------------------------------------------------------------------------------

CURATED: list[tuple[str, dict[str, Any]]] = [
    ("tasks.diagnostics.count", {"n": "many", "delay": math.nan, "fail_at": -1, "symbol": ["x"] * 40, "extra": 1}),
    ("tasks.market_data.fetch_data", {"symbol": {"$gt": ""}, "period": 10**30, "provider": None,
                                      "directory": "", "end": "2999-12-31"}),
    ("tasks.backtest.strategy_backtest", {"fast": 10**40, "slow": -1, "lower": math.inf, "upper": "high",
                                          "dates": [[[[{}]]]], "closes": [0, -1]}),
    ("tasks.analysis.multi_model_analysis", {"symbol": "7203.TX", "models": ["technical"] * 9,
                                             "weights": {"nope": 1.0}, "ttl_s": 0}),
    ("tasks.notifications.send_realtime_notification", {"user_id": "a:b*", "title": "", "message": "m" * 6_000,
                                                        "data": {"k": "\udc00"}, "type": "loud"}),
    ("tasks.notifications.send_email_notification", {"to": "not an address", "subject": "a\r\nBcc: x@y.z",
                                                     "body": None}),
    ("tasks.diagnostics.count", {"n": 1, "args": [], "kwargs": {}, "task_id": "x", "__extra_positional__": [1]}),
]
# A symbol the progress record refuses takes another path (its own test below); left out of the sample.
RECORD_SYMBOL = re.compile(r"[A-Za-z0-9_.^=-]{1,32}")


def _symbol_bug(kwargs: dict[str, Any]) -> bool:
    symbol = kwargs.get("symbol")
    return isinstance(symbol, str) and bool(symbol) and not RECORD_SYMBOL.fullmatch(symbol)


def _worst() -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """The curated inputs plus, per task, the found input with the most errors (the six worst of those)."""
    best: dict[str, tuple[int, tuple[Any, ...], dict[str, Any]]] = {}
    for n, name, args, kwargs in FOUND:
        if n > best.get(name, (0, (), {}))[0] and not _symbol_bug(kwargs) and "self" not in kwargs:
            best[name] = (n, args, kwargs)
    found = sorted(best.items(), key=lambda item: -item[1][0])[:6]
    return [(name, (), kwargs) for name, kwargs in CURATED] + [(name, a, kw) for name, (_, a, kw) in found]


def test_the_worst_inputs_sent_by_name_fail_once_in_the_worker_which_stays_alive(
    celery_worker: subprocess.Popen[bytes], worker_store: ProgressStore, fuzz_tally: Tally
) -> None:
    # Given the worst inputs, each refused by its model here
    worst = _worst()
    expected: dict[str, set[str]] = {}
    sent: list[AsyncResult] = []
    for name, args, kwargs in worst:
        with pytest.raises(InvalidTaskArguments) as refused:
            app.tasks[name].validate_arguments(args, kwargs)
        # When each is sent by name (no validation in the caller), straight to the worker
        res = app.send_task(name, args=list(args), kwargs=kwargs)
        expected[res.id] = {e["field"] for e in refused.value.errors}
        sent.append(res)

    # Then each ends as a failure, and its record as `error` naming the same fields, after one attempt
    for res in sent:
        wait_until(res.ready, timeout=30, what=f"{res.id} to finish")
        assert res.state == "FAILURE"
        rec = worker_store.require(res.id)
        assert rec.status is TaskStatus.ERROR and rec.attempt == 1, (rec.status, rec.attempt)
        assert rec.error_message and rec.error_message.startswith("invalid arguments for")
        errors = rec.processing_details["validation_errors"]
        assert {e["field"] for e in errors} == expected[res.id] and all(e["error"] for e in errors)
        fuzz_tally.add("worker_bad_arguments", accepted=False)

    # And the worker process is alive, answers a ping and still runs work
    alive = celery_worker.poll() is None and any("w1@" in k for r in app.control.ping(timeout=2) for k in r)
    if not alive:
        fuzz_tally.crash("worker_bad_arguments")
    assert alive
    ok = app.tasks["tasks.diagnostics.count"].delay(n=3)
    assert ok.get(timeout=30) == {"counted": 3, "symbol": None}
    assert len(worst) >= len(CURATED)


def test_a_symbol_the_record_cannot_hold_still_ends_the_record_as_error(
    celery_worker: subprocess.Popen[bytes], worker_store: ProgressStore
) -> None:
    # Given a symbol with a trailing newline, sent by name (the publish hook cannot record it either)
    res = app.send_task("tasks.analysis.stock_technical_analysis", kwargs={"symbol": "7203.T\n"})
    wait_until(res.ready, timeout=30, what="the task to finish")
    # Then the record exists and says why
    rec = worker_store.get_task_status(res.id)
    assert rec is not None and rec.status is TaskStatus.ERROR
    assert [e["field"] for e in rec.processing_details["validation_errors"]] == ["symbol"]


def test_a_keyword_argument_named_self_is_refused_like_any_unknown_argument(
    celery_worker: subprocess.Popen[bytes], worker_store: ProgressStore
) -> None:
    with pytest.raises(InvalidTaskArguments):
        app.tasks["tasks.diagnostics.count"].validate_arguments((), {"n": 1, "self": 1})
    res = app.send_task("tasks.diagnostics.count", kwargs={"n": 1, "self": 1})
    wait_until(res.ready, timeout=30, what="the task to finish")
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR
    assert [e["field"] for e in rec.processing_details["validation_errors"]] == ["self"]
