"""The layers stay visible: each package imports only packages below it, and no modules import each other in a circle.

Read from the source with `ast` (nothing is imported), so a cycle hidden behind a function-level import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A package may import its own modules and any package on a lower floor, never one above or beside.
# beat_schedule.py is plain data (task names and periods) that imports nothing of ours: the worker's config reads it.
FLOORS: list[set[str]] = [
    {"base", "beat_schedule"},
    {"progress", "market", "quant"},
    {"notify"},
    {"tracking"},
    {"worker"},
    {"ops"},
    {"tasks"},
    {"api"},
    {"taskrunner"},
    {"bench"},
]
FLOOR_OF = {name: i for i, floor in enumerate(FLOORS) for name in floor}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in FLOOR_OF:
        single = ROOT / f"{top}.py"
        if single.exists():
            found[top] = single
        for path in (ROOT / top).rglob("*.py") if (ROOT / top).is_dir() else ():
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that `name` imports (a package import counts as its __init__)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for imported in targets:
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_every_package_imports_only_packages_on_a_lower_floor() -> None:
    wrong = sorted(
        f"{src} imports {dst}"
        for src, dsts in _graph().items()
        for dst in dsts
        if (a := src.split(".")[0]) != (b := dst.split(".")[0]) and FLOOR_OF[b] >= FLOOR_OF[a]
    )
    assert wrong == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a circle of concepts; the arrows into it are.
    edges = {src: {d for d in dsts if not src.startswith(d + ".")} for src, dsts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert circles == []


def test_the_layer_table_names_every_top_level_package() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert packages - set(FLOOR_OF) == set()
