"""Error responses: 422 naming each bad field and the reason, 404 unknown task, 409 refused change, 503 Redis down."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from progress import InvalidTransition, TaskNotFound
from progress.errors import InvalidValue
from tracking.errors import InvalidTaskArguments


def field_errors(errors: Any) -> list[dict[str, str]]:
    """pydantic/FastAPI errors as [{field, in, error}] (field dotted, without the location prefix)."""
    out: list[dict[str, str]] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        rest = loc[1:] if loc and loc[0] == where else loc
        out.append({"field": ".".join(rest) or "(body)", "in": where, "error": str(err.get("msg", "invalid"))})
    return out


def install(app: FastAPI) -> None:
    """Registers the handlers."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "invalid request", "errors": field_errors(exc.errors())}, status_code=422)

    @app.exception_handler(InvalidTaskArguments)
    async def _bad_arguments(_: Request, exc: InvalidTaskArguments) -> JSONResponse:
        errors = [{"field": e["field"], "in": "body", "error": e["error"]} for e in exc.errors]
        return JSONResponse({"detail": str(exc), "errors": errors}, status_code=422)

    @app.exception_handler(InvalidValue)
    async def _over_limit(_: Request, exc: InvalidValue) -> JSONResponse:
        # The store's own check (progress/limits.py), in the same shape as a validation error.
        errors = [{"field": exc.field, "in": "body", "error": exc.reason}]
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(TaskNotFound)
    async def _missing(_: Request, exc: TaskNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidTransition)
    async def _refused(_: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "current_status": exc.current}, status_code=409)

    @app.exception_handler(RedisError)
    async def _redis_down(_: Request, exc: RedisError) -> JSONResponse:
        return JSONResponse({"detail": f"Redis unavailable: {type(exc).__name__}: {exc}"}, status_code=503)
