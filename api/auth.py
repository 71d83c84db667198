"""Bearer-token auth: one service token for internal writers, HS256 JWTs for users (`sub` is the user id).

Every check goes through `authenticate_connection`: a client address over the failure limit gets 429 before its
token is even looked at (so a blocked client learns nothing about its guesses), and each failure is counted.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, Query, Request, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api.auth_limit import AuthFailureLimiter

_bearer = HTTPBearer(auto_error=False, description="the service token, or a user's JWT")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a service (sees everything), an admin user (likewise) or a plain user (only their own)."""

    kind: Literal["service", "user"]
    user_id: str | None = None
    admin: bool = False
    expires_at: float | None = None  # the JWT's `exp` (epoch seconds); streams end there. None: the service token

    @property
    def is_operator(self) -> bool:
        """Whether every task, stream and user's notifications are visible to this caller."""
        return self.kind == "service" or self.admin

    def may_act_for(self, user_id: str) -> bool:
        """Whether this caller may read or change `user_id`'s notifications and results."""
        return self.is_operator or self.user_id == user_id


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Checks tokens against the configured secrets."""

    service_token: str
    jwt_secret: str
    algorithm: str = "HS256"

    def authenticate(self, token: str) -> Principal:
        """The principal a token stands for; raises 401 for anything else."""
        # Constant-time comparison: the service token must not leak through response timing.
        if hmac.compare_digest(token.encode(), self.service_token.encode()):
            return Principal("service")
        try:
            claims = jwt.decode(
                token, self.jwt_secret, algorithms=[self.algorithm], options={"require": ["sub", "exp"]}
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"invalid token: {exc}") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise unauthorized("invalid token: empty subject")
        exp = claims.get("exp")
        return Principal("user", user_id=sub, admin=claims.get("role") == "admin",
                         expires_at=float(exp) if isinstance(exp, int | float) else None)

    def issue(self, user_id: str, *, ttl_s: int = 3_600, admin: bool = False) -> str:
        """A user JWT signed with the configured secret (tests, operators' CLI)."""
        claims: dict[str, Any] = {"sub": user_id, "iat": int(time.time()), "exp": int(time.time()) + ttl_s}
        if admin:
            claims["role"] = "admin"
        return jwt.encode(claims, self.jwt_secret, algorithm=self.algorithm)


def unauthorized(reason: str) -> HTTPException:
    """401 with the header RFC 6750 asks for."""
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def too_many_failures(retry_after_s: int) -> HTTPException:
    """429 for a client address with too many recent auth failures, with when to try again."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(retry_after_s)},
                         detail=f"too many failed authentications from this address; retry after {retry_after_s}s")


def forbidden(reason: str) -> HTTPException:
    """403: authenticated, but not allowed to see or change this."""
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=reason)


def authenticator(conn: HTTPConnection) -> Authenticator:
    """The app's authenticator."""
    auth: Authenticator = conn.app.state.auth
    return auth


def client_address(conn: HTTPConnection) -> str:
    """The peer's address (uvicorn puts a trusted proxy's X-Forwarded-For here), the limiter's key."""
    return conn.client.host if conn.client is not None else "unknown"


async def authenticate_connection(conn: HTTPConnection, token: str) -> Principal:
    """The principal of a request or socket's token: 429 while its address is over the failure limit, 401 (and
    one more failure counted) for a missing or bad token."""
    api = getattr(conn.app.state, "api", None)
    limiter: AuthFailureLimiter | None = getattr(api, "auth_limiter", None)
    client = client_address(conn)
    if limiter is not None:
        wait = await limiter.retry_after(client)
        if wait is not None:
            raise too_many_failures(wait)
    try:
        if not token:
            raise unauthorized("missing bearer token")
        return authenticator(conn).authenticate(token)
    except HTTPException:
        if limiter is not None:
            await limiter.failed(client)
        raise


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of an HTTP endpoint; 401 without a valid bearer token."""
    ok = creds is not None and creds.scheme.lower() == "bearer"
    return await authenticate_connection(request, creds.credentials if creds is not None and ok else "")


async def operator(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, who must be a service or an admin (403 for a plain user)."""
    if not who.is_operator:
        raise forbidden("this endpoint needs the service token or an admin token")
    return who


async def websocket_principal(ws: WebSocket) -> Principal:
    """The caller of a WebSocket: `Authorization: Bearer` or `?token=` (browsers cannot set headers on sockets)."""
    header = ws.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ws.query_params.get("token", "")
    return await authenticate_connection(ws, token)


async def stream_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="the bearer token, for EventSource (it cannot set headers)")] = None,
) -> Principal:
    """The caller of an SSE stream: `Authorization: Bearer`, or `?token=`."""
    value = creds.credentials if creds is not None and creds.scheme.lower() == "bearer" else (token or "")
    return await authenticate_connection(request, value)


Caller = Annotated[Principal, Depends(principal)]
Operator = Annotated[Principal, Depends(operator)]
StreamCaller = Annotated[Principal, Depends(stream_principal)]
