"""Base pydantic model for every value that leaves the package."""

from pydantic import BaseModel, ConfigDict


class QuantModel(BaseModel):
    """Immutable, closed-schema base class for results returned to callers."""

    # frozen: results are values; a Celery task should not be able to mutate a result after it was computed.
    # extra="forbid": a typo in a caller-built input (e.g. StrategyParams) must fail instead of being ignored.
    # allow_inf_nan=False: NaN/inf are not valid JSON, so a bug producing them fails here, not in the result backend.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
