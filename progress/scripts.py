"""The progress core's Lua scripts (progress/lua/), loaded by the project's one Lua loader."""

from __future__ import annotations

from progress.lua_loader import load_lua

NAMES = ("create", "update", "progress", "delete")


def source(name: str) -> str:
    """The full source of script `name`, with the files it declares it uses prepended (header checked)."""
    return load_lua("progress", f"lua/{name}.lua")
