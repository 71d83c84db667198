"""The notification store's Lua scripts (notify/lua/), loaded by the project's one Lua loader."""

from __future__ import annotations

from progress.lua_loader import load_lua

NAMES = ("create", "page", "mark_read")


def source(name: str) -> str:
    """The source of script `name` (header checked)."""
    return load_lua("notify", f"lua/{name}.lua")
