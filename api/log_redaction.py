"""Keeps bearer tokens out of the server's logs: EventSource and browser sockets send them as `?token=`, and uvicorn
writes request paths with their query strings (access lines, WebSocket handshakes)."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

_PARAM = re.compile(r"([?&])([^=&\s\"]*)=([^&\s\"]*)")
_SECRET_PARAMS = frozenset({"token", "access_token"})
#: uvicorn's loggers that carry request paths.
LOGGERS = ("uvicorn.access", "uvicorn.error")


def mask_tokens(text: str) -> str:
    """`text` with the value of every token query parameter replaced by ***."""

    def mask(m: re.Match[str]) -> str:
        # Starlette decodes parameter names, so `tok%65n=` is a token too.
        return f"{m[1]}{m[2]}=***" if unquote(m[2]).lower() in _SECRET_PARAMS else m[0]

    return _PARAM.sub(mask, text) if "=" in text else text


class TokenFilter(logging.Filter):
    """Masks token query parameters in a record's message and arguments (keeping their number and types)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record, masked."""
        if isinstance(record.msg, str):
            record.msg = mask_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_tokens(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Adds the filter to uvicorn's loggers once per process (they are configured before the app is imported)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenFilter) for f in logger.filters):
            logger.addFilter(TokenFilter())
