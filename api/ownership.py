"""What a caller may name when enqueueing: a user only their own tasks and themselves; operators anything.

The argument models declare which fields name owned resources (tracking/ownership.py); this module is where the API
holds each of them against the caller, before anything is recorded or published.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.auth import Principal, forbidden
from api.routes_tasks import owner_of
from progress import AsyncProgressStore
from tracking.ownership import Owned, references, scalar_user_fields


def with_caller_defaults(who: Principal, model: type[BaseModel], arguments: dict[str, Any]) -> dict[str, Any]:
    """A user's omitted (or null) single-user arguments become the user: their results and reports are theirs
    (admins' too, as before; only the service token leaves them unset, e.g. for a report on every user)."""
    if who.user_id is None:
        return arguments
    missing = {name: who.user_id for name in scalar_user_fields(model) if arguments.get(name) is None}
    return {**arguments, **missing} if missing else arguments


async def check_references(who: Principal, params: BaseModel, store: AsyncProgressStore) -> None:
    """403 naming the field when a user names another user, or a task that is not theirs (or does not exist)."""
    if who.is_operator:
        return
    for ref in references(params):
        if ref.kind is Owned.USER and ref.value != who.user_id:
            raise forbidden(f"{ref.field}: user {who.user_id} cannot name user {ref.value}")
        if ref.kind is Owned.TASK:
            record = await store.get_task_status(ref.value)
            # A missing task gets the same answer as another user's: the reply must not tell which ids exist.
            if record is None or owner_of(record) != who.user_id:
                raise forbidden(f"{ref.field}: task {ref.value} does not belong to user {who.user_id}")
