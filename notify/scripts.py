"""Loads the Lua scripts shipped beside this module."""

from __future__ import annotations

from functools import cache
from importlib import resources

NAMES = ("create", "page", "mark_read")


@cache
def source(name: str) -> str:
    """The source of script `name`."""
    return resources.files("notify").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
