"""Loads the Lua scripts shipped beside this module, resolving their `-- uses:` headers."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_USES = re.compile(r"^-- uses: (\S+)$", re.MULTILINE)
NAMES = ("create", "update", "delete")


@cache
def source(name: str) -> str:
    """The full source of script `name`, with the files it declares it uses prepended."""
    text = resources.files("progress").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    lua = resources.files("progress").joinpath("lua")
    prelude = [lua.joinpath(dep).read_text(encoding="utf-8") for dep in _USES.findall(text)]
    return "\n".join([*prelude, text])
