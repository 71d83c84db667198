"""Alert conditions and their evaluation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from market.alerts import AlertCondition, evaluate, format_yen


def above(threshold: float) -> AlertCondition:
    return AlertCondition(id="a1", symbol="7203.T", kind="above", threshold=threshold)


def below(threshold: float) -> AlertCondition:
    return AlertCondition(id="b1", symbol="7203.T", kind="below", threshold=threshold)


def change(threshold: float, reference: float) -> AlertCondition:
    return AlertCondition(
        id="p1", symbol="7203.T", kind="percent_change", threshold=threshold, reference_price=reference
    )


def test_an_above_alert_fires_at_or_above_the_threshold_only() -> None:
    assert evaluate(above(3800), 3812).fired
    assert evaluate(above(3800), 3800).fired
    assert not evaluate(above(3800), 3799).fired


def test_a_below_alert_fires_at_or_below_the_threshold_only() -> None:
    assert evaluate(below(3800), 3790).fired
    assert evaluate(below(3800), 3800).fired
    assert not evaluate(below(3800), 3800.5).fired


def test_a_positive_percent_change_fires_on_a_rise_of_at_least_that_much() -> None:
    assert evaluate(change(5, 1000), 1050).fired  # +5.0%
    assert not evaluate(change(5, 1000), 1049).fired  # +4.9%
    assert not evaluate(change(5, 1000), 900).fired  # a fall does not satisfy a rise alert


def test_a_negative_percent_change_fires_on_a_fall_of_at_least_that_much() -> None:
    assert evaluate(change(-5, 1000), 950).fired  # -5.0%
    assert not evaluate(change(-5, 1000), 951).fired  # -4.9%
    assert not evaluate(change(-5, 1000), 1100).fired


def test_an_exact_percent_move_fires_despite_float_rounding() -> None:
    # 102 -> 107.1 yen is exactly +5% (102 * 1.05 = 107.1), but binary floats compute 4.999999999999995.
    assert (107.1 - 102) / 102 * 100 < 5
    assert evaluate(change(5, 102), 107.1).fired


def test_the_evaluation_reports_the_change_and_an_english_message() -> None:
    result = evaluate(change(5, 1000), 1050)
    assert result.change_percent == pytest.approx(5.0)
    assert result.message == "Alert p1 fired: 7203.T at ¥1,050 moved +5.00% from ¥1,000; alert on a rise of 5%"
    assert evaluate(above(3800), 3812).message == "Alert a1 fired: 7203.T at ¥3,812 is at or above ¥3,800"
    assert evaluate(below(3800), 3812.5).message == "Alert b1 not fired: 7203.T at ¥3,812.5 is above ¥3,800"


def test_evaluation_is_pure_and_repeatable() -> None:
    condition = above(3800)
    assert evaluate(condition, 3812) == evaluate(condition, 3812)
    assert condition == above(3800)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "percent_change", "threshold": 5}, "need a reference_price"),
        ({"kind": "percent_change", "threshold": 0, "reference_price": 100}, "non-zero"),
        ({"kind": "above", "threshold": 100, "reference_price": 90}, "only used by percent_change"),
        ({"kind": "below", "threshold": -1}, "must be > 0"),
        ({"kind": "between", "threshold": 1}, "kind"),
        ({"kind": "above", "threshold": 1, "symbol": "7203"}, "7203"),
        ({"kind": "above", "threshold": 1, "id": ""}, "id"),
    ],
)
def test_an_ill_formed_condition_is_refused(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        AlertCondition.model_validate({"id": "x", "symbol": "7203.T", **fields})


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_a_last_price_that_is_not_a_positive_number_is_refused(price: float) -> None:
    with pytest.raises(ValueError, match="last_price"):
        evaluate(above(3800), price)


def test_yen_formatting_drops_needless_decimals() -> None:
    assert [format_yen(p) for p in (3812, 98.5, 1234.25, 98.999)] == ["¥3,812", "¥98.5", "¥1,234.25", "¥99"]
