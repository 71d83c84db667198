"""Argument models of the market data tasks: bad input fails at publish (and in the worker) naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from market import JST, Period, validate_symbol
from tracking.ownership import OwnedTaskId

Symbol = Annotated[str, AfterValidator(validate_symbol)]
ProviderName = Literal["synthetic", "csv", "yfinance"]


def _parse_period(value: object) -> Period:
    if isinstance(value, str):
        return Period.parse(value)  # InvalidPeriodError is a ValueError: pydantic reports it on the field
    raise ValueError(f"period must be a string such as '1y', got {type(value).__name__}")


PeriodArg = Annotated[Period, BeforeValidator(_parse_period)]


def _not_future(value: dt.date | None) -> dt.date | None:
    if value is not None and value > dt.datetime.now(JST).date():
        raise ValueError(f"end {value} is in the future (Tokyo time)")
    return value


EndDate = Annotated[dt.date | None, AfterValidator(_not_future)]
Directory = Annotated[str, Field(min_length=1, max_length=4096)]

# Fields are declared in each task's parameter order: positional arguments are matched to fields by position.


class FetchArgs(BaseModel):
    """Arguments of `fetch_data`."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    period: PeriodArg = Period.ONE_YEAR
    provider: ProviderName | None = Field(default=None, description="price provider (default: the "
                                          "TASKRUNNER_MARKET_PROVIDER setting; synthetic prices are made up)")
    directory: Directory | None = Field(default=None,
                                       description="csv provider: folder of <symbol>.csv, else TASKRUNNER_CSV_DIR")
    end: EndDate = Field(default=None, description="last day of the history (default: the last close)")
    parent_task_id: OwnedTaskId | None = Field(
        default=None, description="the batch whose aggregate progress this fetch counts toward"
    )


class UpdateAllArgs(BaseModel):
    """Arguments of `update_all_stock_prices`."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[Symbol] | None = Field(default=None, min_length=1, max_length=2_000,
                                         description="watch list (default: TASKRUNNER_WATCHLIST and alerted symbols)")
    period: PeriodArg = Period.ONE_MONTH
    provider: ProviderName | None = Field(default=None, description="as fetch_data's")
    directory: Directory | None = None
    end: EndDate = None

    @field_validator("symbols")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        # A repeated symbol would be fetched twice and count twice toward the batch total.
        return None if value is None else list(dict.fromkeys(value))


class FinishBatchArgs(BaseModel):
    """Arguments of `finish_batch` (the chord callback): the children's results first, as Celery passes them."""

    model_config = ConfigDict(extra="forbid")

    results: list[dict[str, Any]]
    parent_task_id: OwnedTaskId
    symbols: list[Symbol] = Field(min_length=1)


class MonitorArgs(BaseModel):
    """Arguments of `price_alert_monitor` (none: it checks every stored alert)."""

    model_config = ConfigDict(extra="forbid")


class HoursArgs(BaseModel):
    """Arguments of `market_hours_check`."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(default=None, description="instant with its UTC offset (default: now)")
