"""The one Lua loader: every script of the project loads through it, and a script reading a key or argument its
KEYS/ARGV header does not declare is refused at load with the file and the index named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from progress.lua_loader import LuaHeaderError, check_header, load_lua

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("progress", "notify", "tasks", "worker", "api", "taskrunner", "market", "quant")


def _project_scripts() -> list[tuple[str, str]]:
    """(package, path in it) of every script; included files (`_name.lua`) are checked through their includers."""
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.lua")):
            folder = path.parent.parent if path.parent.name == "lua" else path.parent
            if not path.name.startswith("_"):
                out.append((".".join(folder.relative_to(ROOT).parts), path.relative_to(folder).as_posix()))
    return out


@pytest.mark.parametrize(("package", "path"), _project_scripts())
def test_every_project_script_loads_through_the_loader_with_a_header_that_declares_what_it_reads(
    package: str, path: str
) -> None:
    assert "redis.call" in load_lua(package, path)


def test_the_project_scripts_are_found() -> None:
    found = {f"{p}/{s}" for p, s in _project_scripts()}
    assert {"progress/lua/update.lua", "notify/lua/create.lua"} <= found and len(found) >= 10


def test_includes_are_prepended_to_the_script_that_uses_them() -> None:
    source = load_lua("progress", "lua/update.lua")
    assert source.index("local function entry_fields") < source.index("-- KEYS[1] record")


def test_a_script_reading_an_undeclared_key_is_refused_naming_the_file_and_the_key() -> None:
    text = "-- KEYS[1] record hash\n-- ARGV[1] now\nredis.call('HSET', KEYS[1], 'a', ARGV[1])\n"
    text += "redis.call('DEL', KEYS[2])\n"
    with pytest.raises(LuaHeaderError, match=re.escape("bad.lua: reads KEYS[2]")):
        check_header(text, "bad.lua")


def test_an_argument_read_by_an_expression_needs_an_open_ended_declaration() -> None:
    body = "for i = 2, #ARGV do redis.call('DEL', ARGV[i]) end\n"
    with pytest.raises(LuaHeaderError, match=re.escape("reads ARGV[i]")):
        check_header("-- ARGV[1] cutoff\n" + body, "x.lua")
    check_header("-- ARGV[1] cutoff\n-- ARGV[2..] keys to delete\n" + body, "x.lua")
    check_header("-- ARGV[1] cutoff\n-- ARGV[2], ARGV[3], ...  keys to delete\n" + body, "x.lua")


def test_a_script_without_a_header_or_with_gaps_in_it_is_refused() -> None:
    with pytest.raises(LuaHeaderError, match="no KEYS/ARGV header"):
        check_header("return redis.call('PING')\n", "none.lua")
    with pytest.raises(LuaHeaderError, match="without gaps"):
        check_header("-- KEYS[1] a\n-- KEYS[3] b\nreturn 1\n", "gap.lua")


def test_no_module_registers_a_script_without_the_loader() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for pkg in PACKAGES
        for path in sorted((ROOT / pkg).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "register_script(" in line and "load_lua(" not in line and "scripts.source(" not in line
    ]
    assert offenders == []
