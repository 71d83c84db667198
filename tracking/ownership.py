"""Which task arguments name owned resources, and which tasks are internal: declared once, read generically.

An argument model marks a field that names another task (`OwnedTaskId`) or a user (`OwnedUserId`, or `OWNS_USER` on
a family's own user id type); lists and optionals of them are found too. Whoever enqueues on behalf of a caller (the
HTTP API) reads `references()` and checks each one against the caller, so a new task that takes a parent id or a list
of users is covered by its declaration alone. A task that must never be enqueued from outside (a chord callback, a
Beat job) says why with `@app.task(..., internal="why")`.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from notify.models import UserId

#: The JSON-schema key that marks an owned reference (shown in `GET /api/tasks`).
SCHEMA_KEY = "x-owned"
# What a progress record accepts as a task id (progress.models.TaskCreate), bounded.
TASK_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"


class Owned(StrEnum):
    """What kind of owned resource an argument names."""

    TASK = "task"  # a task record: owned by the user in its metadata.user_id
    USER = "user"  # a user: a user owns only themselves


@dataclass(frozen=True, slots=True)
class Owns:
    """Annotated marker: the value (or each item of it) names a resource of this kind."""

    kind: Owned

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core)
        schema[SCHEMA_KEY] = self.kind.value
        return schema


OWNS_TASK = Owns(Owned.TASK)
OWNS_USER = Owns(Owned.USER)
OwnedTaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN), OWNS_TASK]
OwnedUserId = Annotated[UserId, OWNS_USER]
# Before markers existed the API checked a top-level `user_id`; a model that has one unmarked keeps that check.
_LEGACY_USER_FIELD = "user_id"


@dataclass(frozen=True, slots=True)
class Reference:
    """One owned resource an argument names: the field (dotted, with the list index) and the id."""

    field: str
    kind: Owned
    value: str


def owned_fields(model: type[BaseModel]) -> dict[str, Owned]:
    """The model's fields that name owned resources, and of which kind."""
    out: dict[str, Owned] = {}
    for name, info in model.model_fields.items():
        kind = _kind_in(info.metadata) or _kind_of(info.annotation)
        if kind is None and name == _LEGACY_USER_FIELD:
            kind = Owned.USER
        if kind is not None:
            out[name] = kind
    return out


def scalar_user_fields(model: type[BaseModel]) -> list[str]:
    """Owned user fields that hold one id (not a list): the ones a caller's own id can stand in for."""
    return [name for name, kind in owned_fields(model).items()
            if kind is Owned.USER and not _is_list(model.model_fields[name].annotation)]


def references(params: BaseModel) -> list[Reference]:
    """Every owned resource the validated arguments name (None and missing ones left out)."""
    out: list[Reference] = []
    for name, kind in owned_fields(type(params)).items():
        value = getattr(params, name, None)
        if isinstance(value, str):
            out.append(Reference(name, kind, value))
        elif isinstance(value, list | tuple):
            out += [Reference(f"{name}.{i}", kind, v) for i, v in enumerate(value) if isinstance(v, str)]
    return out


def internal_reason(task: Any) -> str | None:
    """Why a task may not be enqueued from outside (its `internal=` option), or None if it may."""
    reason = getattr(task, "internal", None)
    return reason if isinstance(reason, str) and reason else None


def _kind_in(metadata: Any) -> Owned | None:
    for item in metadata or ():
        if isinstance(item, Owns):
            return item.kind
    return None


def _kind_of(annotation: Any) -> Owned | None:
    """The marker anywhere inside a type (Annotated, Optional, list[...])."""
    if get_origin(annotation) is Annotated:
        found = _kind_in(annotation.__metadata__)
        if found is not None:
            return found
    for arg in get_args(annotation):
        found = _kind_of(arg)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin is Annotated or origin is Union or origin is types.UnionType:
        return any(_is_list(arg) for arg in get_args(annotation))
    return False
