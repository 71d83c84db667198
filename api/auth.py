"""Bearer-token auth: one service token for internal writers, HS256 JWTs for users (`sub` is the user id)."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, Query, Request, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="the service token, or a user's JWT")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a service (sees everything), an admin user (likewise) or a plain user (only their own)."""

    kind: Literal["service", "user"]
    user_id: str | None = None
    admin: bool = False

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
        return Principal("user", user_id=sub, admin=claims.get("role") == "admin")

    def issue(self, user_id: str, *, ttl_s: int = 3_600, admin: bool = False) -> str:
        """A user JWT signed with the configured secret (tests, operators' CLI)."""
        claims: dict[str, Any] = {"sub": user_id, "iat": int(time.time()), "exp": int(time.time()) + ttl_s}
        if admin:
            claims["role"] = "admin"
        return jwt.encode(claims, self.jwt_secret, algorithm=self.algorithm)


def unauthorized(reason: str) -> HTTPException:
    """401 with the header RFC 6750 asks for."""
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def forbidden(reason: str) -> HTTPException:
    """403: authenticated, but not allowed to see or change this."""
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=reason)


def authenticator(request: Request) -> Authenticator:
    """The app's authenticator."""
    auth: Authenticator = request.app.state.auth
    return auth


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of an HTTP endpoint; 401 without a valid bearer token."""
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise unauthorized("missing bearer token")
    return authenticator(request).authenticate(creds.credentials)


async def operator(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, who must be a service or an admin (403 for a plain user)."""
    if not who.is_operator:
        raise forbidden("this endpoint needs the service token or an admin token")
    return who


def websocket_principal(ws: WebSocket) -> Principal:
    """The caller of a WebSocket: `Authorization: Bearer` or `?token=` (browsers cannot set headers on sockets)."""
    header = ws.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ws.query_params.get("token", "")
    if not token:
        raise unauthorized("missing bearer token")
    auth: Authenticator = ws.app.state.auth
    return auth.authenticate(token)


async def stream_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="the bearer token, for EventSource (it cannot set headers)")] = None,
) -> Principal:
    """The caller of an SSE stream: `Authorization: Bearer`, or `?token=`."""
    value = creds.credentials if creds is not None and creds.scheme.lower() == "bearer" else (token or "")
    if not value:
        raise unauthorized("missing bearer token")
    return authenticator(request).authenticate(value)


Caller = Annotated[Principal, Depends(principal)]
Operator = Annotated[Principal, Depends(operator)]
StreamCaller = Annotated[Principal, Depends(stream_principal)]
