"""The one loader of the project's Lua scripts (progress/, notify/, the task families): reads a package's `.lua`
file, prepends the files its `-- uses:` lines name, and checks its KEYS/ARGV header.

The header is the script's leading comment block. It declares every key and argument the script reads, one per
line (`-- KEYS[2]  counts  hash ...`); an open-ended one is written `KEYS[2..]`, `ARGV[2..n+1]` or
`ARGV[2], ARGV[3], ...`. A script that reads `KEYS[n]` or `ARGV[n]` it does not declare (or indexes them with an
expression without an open-ended declaration) is refused at load, naming the file and the index: Redis Cluster and
the reviewers rely on the header to know every key a script touches. Included files must not read KEYS or ARGV
(they cannot know the including script's header): they take keys as parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_USES = re.compile(r"^-- uses: (\S+)$", re.MULTILINE)
# A declaration line of the header: `-- KEYS[3] ...`, `-- ARGV[6..] ...`, `-- ARGV[2], ARGV[3], ...`.
_DECLARED = re.compile(r"^--\s+(KEYS|ARGV)\[(\d+)(\.\.[^\]]*)?\](.*)$")
# A read in the body: a literal index (`KEYS[1]`) or any expression (`ARGV[i + 1]`).
_READ = re.compile(r"\b(KEYS|ARGV)\[\s*([^\]]*?)\s*\]")


class LuaHeaderError(ValueError):
    """A Lua script reads a key or argument its KEYS/ARGV header does not declare (or has no header)."""


@dataclass(frozen=True, slots=True)
class Header:
    """What a script's header declares: the fixed KEYS/ARGV indexes and where open-ended ones start."""

    fixed: dict[str, frozenset[int]]
    open_from: dict[str, int | None]

    def allows(self, family: str, index: str) -> bool:
        """Whether the header declares `family[index]` (index: a literal number or an expression)."""
        start = self.open_from[family]
        if index.isdigit():
            n = int(index)
            return n in self.fixed[family] or (start is not None and n >= start)
        return start is not None


@cache
def load_lua(package: str, path: str) -> str:
    """The source of `path` (relative to `package`, e.g. "lua/update.lua") with the files its `-- uses:` lines
    name prepended (relative to its folder); raises LuaHeaderError if it reads a KEYS/ARGV entry its header does
    not declare."""
    root = resources.files(package)
    text = root.joinpath(path).read_text(encoding="utf-8")
    where = f"{package}/{path}"
    check_header(text, where)
    folder = root.joinpath(*path.split("/")[:-1]) if "/" in path else root
    prelude = []
    for dep in _USES.findall(text):
        included = folder.joinpath(dep).read_text(encoding="utf-8")
        reads = _body_reads(included)
        if reads:
            raise LuaHeaderError(f"{where}: included {dep} reads {reads[0][0]}[{reads[0][1]}]; pass keys as parameters")
        prelude.append(included)
    return "\n".join([*prelude, text])


def check_header(text: str, where: str) -> Header:
    """The script's header; raises LuaHeaderError naming `where` and the first undeclared read."""
    header = parse_header(text)
    if not header.fixed["KEYS"] and not header.fixed["ARGV"] and header.open_from == {"KEYS": None, "ARGV": None}:
        raise LuaHeaderError(f"{where}: no KEYS/ARGV header (declare each as `-- KEYS[1] name type why`)")
    for family in ("KEYS", "ARGV"):
        fixed = sorted(header.fixed[family])
        if fixed and fixed != list(range(1, len(fixed) + 1)):
            raise LuaHeaderError(f"{where}: the header's {family} must be numbered 1..n without gaps, not {fixed}")
    for family, index in _body_reads(text):
        if not header.allows(family, index):
            raise LuaHeaderError(f"{where}: reads {family}[{index}], which its header does not declare")
    return header


def parse_header(text: str) -> Header:
    """The KEYS/ARGV declarations of the leading comment block."""
    fixed: dict[str, set[int]] = {"KEYS": set(), "ARGV": set()}
    open_from: dict[str, int | None] = {"KEYS": None, "ARGV": None}
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _DECLARED.match(line)
        if m is None:
            continue
        family, n, dots, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if dots or (rest.lstrip().startswith(", ") and "..." in rest):
            start = open_from[family]
            open_from[family] = n if start is None else min(start, n)
        else:
            fixed[family].add(n)
    return Header({k: frozenset(v) for k, v in fixed.items()}, open_from)


def _body_reads(text: str) -> list[tuple[str, str]]:
    """Every KEYS/ARGV read outside comment lines, in order."""
    reads: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.lstrip().startswith("--"):
            continue
        reads.extend((m.group(1), m.group(2)) for m in _READ.finditer(line))
    return reads
