"""The size and encoding limits every write to the progress store obeys, defined once.

Every write path (the store's `create_task` / `update_progress` / `apply`, the reporter, the HTTP endpoints, a task's
results at completion) goes through these checks before anything reaches Redis, so no stored record can be too big
to read, nested deeper than a reader can recurse, or hold text that is not valid UTF-8. The values are settings
(`TASKRUNNER_MAX_*`), read once per process; the defaults are sized for progress records shown to people.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from progress.errors import InvalidValue
from progress.jsonutil import dumps


class Limits(BaseSettings):
    """How big and how deep what a write carries may be."""

    model_config = SettingsConfigDict(env_prefix="TASKRUNNER_", extra="ignore", frozen=True)

    max_message_chars: int = Field(default=2_000, ge=1, description="a status line, shown in every list row")
    max_error_chars: int = Field(default=8_000, ge=1, description="an error text (room for one traceback line)")
    max_metadata_bytes: int = Field(default=16_384, ge=2, description="metadata given at creation, encoded")
    max_details_bytes: int = Field(
        default=65_536, ge=2, description="processing details in one write, encoded (sent with every progress write)"
    )
    max_results_bytes: int = Field(default=1_048_576, ge=2, description="a task's results, encoded (written once)")
    max_json_depth: int = Field(
        default=32, ge=1, le=1_000, description="nesting of details/results/metadata: readers recurse into them"
    )


@lru_cache(maxsize=1)
def default_limits() -> Limits:
    """The process's limits (environment, else the defaults)."""
    return Limits()


def check_text(value: Any, field: str, max_chars: int) -> None:
    """Raises InvalidValue naming `field` unless `value` is text of at most `max_chars` that UTF-8 can encode."""
    if not isinstance(value, str):
        raise InvalidValue(field, f"must be text, not {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidValue(field, f"is longer than {max_chars} characters ({len(value)})")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue(field, "contains text that is not valid Unicode (a lone surrogate)") from None


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of dicts and lists, counted up to `limit` + 1 (iterative: a hostile value cannot exhaust the
    stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list | tuple) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_json(value: Any, field: str, max_bytes: int, max_depth: int) -> str:
    """The compact JSON of `value`; raises InvalidValue naming `field` if it is too deep, not JSON, not valid
    Unicode, or larger than `max_bytes` once encoded. Depth is checked first, before anything recurses."""
    if json_depth(value, max_depth) > max_depth:
        raise InvalidValue(field, f"is nested deeper than {max_depth} levels")
    try:
        text = dumps(value)
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate: JSON text may carry one as an escape, but no Redis client can encode it.
        raise InvalidValue(field, "contains text that is not valid Unicode (a lone surrogate)") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidValue(field, f"is not JSON: {exc}") from None
    if size > max_bytes:
        raise InvalidValue(field, f"is larger than {max_bytes} bytes once encoded ({size})")
    return text


def check_object(value: Any, field: str, max_bytes: int, max_depth: int) -> str:
    """As check_json, for a member that must be a JSON object (details, results, metadata)."""
    if not isinstance(value, dict):
        raise InvalidValue(field, f"must be an object, not {type(value).__name__}")
    return check_json(value, field, max_bytes, max_depth)


def clip(text: str, max_chars: int) -> str:
    """Text cut to `max_chars` with a marker, and lone surrogates replaced: for error texts a task must record
    whatever their size (an exception's message), where refusing would leave the task unended."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) <= max_chars:
        return text
    marker = " ... (cut)"
    return text[: max(0, max_chars - len(marker))] + marker
