"""The command line's user-facing errors: one line each, saying what to do."""

from __future__ import annotations


class CliError(Exception):
    """An error the user can fix; `main` prints its message as one line and exits with `code`."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (first line of a multi-line message), never empty."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
