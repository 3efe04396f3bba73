"""No import cycles in ``station``: the layering has to be readable from the imports.

Every import counts: top level, under ``if TYPE_CHECKING:``, inside functions,
relative ones and ``importlib.import_module("station...")`` with a literal name.
A cycle that only type checkers or a lazy function see is still two modules
that each need the other, so it is a cycle in the design. The checker is
tested on small synthetic packages, so a broken checker cannot pass quietly.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "station"

Graph = dict[str, set[str]]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg.sub`` for ``pkg/sub/__init__.py``)."""
    root = package_dir.parent
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, ...]]:
    """What this module imports, anywhere in it, with relative imports resolved.

    Each import gives its candidate module names, most specific first: for
    ``from a import b`` that is ``a.b`` (if b is a submodule) and then ``a``.
    """
    own_package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name,) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = own_package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                yield (f"{base}.{alias.name}", base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield (node.args[0].value,)


def import_graph(package_dir: Path) -> Graph:
    """Module → the package's modules it imports (edges to other packages are left out)."""
    modules = module_names(package_dir)
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for candidates in _imported_names(tree, name, path.name == "__init__.py"):
            target = next((c for c in candidates if c in modules), None)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Concrete cycles (``a → b → … → a``), enough that every module in one is named."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is a few hundred nodes at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles: list[list[str]] = []
    for group in sorted(groups):
        uncovered = list(group)
        while uncovered:
            cycle = _cycle_through(graph, set(group), uncovered[0])
            cycles.append(cycle)
            uncovered = [member for member in uncovered if member not in cycle]
    return cycles


def _cycle_through(graph: Mapping[str, set[str]], group: set[str], start: str) -> list[str]:
    """The shortest path from ``start`` back to itself inside one connected group."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{start} is in a cycle group but no cycle goes through it")


def describe(cycles: list[list[str]]) -> str:
    return "\n".join(" → ".join(cycle) for cycle in cycles)


def test_station_has_no_import_cycles() -> None:
    cycles = find_cycles(import_graph(PACKAGE))
    assert not cycles, "import cycles in station:\n" + describe(cycles)


def test_the_graph_sees_the_package() -> None:
    """A checker that found no modules or no edges would pass anything."""
    graph = import_graph(PACKAGE)
    assert len(graph) > 50
    assert {"station.cli_base", "station.cli_data", "station.tui.app"} <= graph["station.cli"]
    assert "station.tui.screens.scan" in graph["station.tui.app"]


# --- the checker itself, on synthetic packages ------------------------------------------


def _package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for relative, source in files.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for directory in [tmp_path / "pkg", *(tmp_path / "pkg").rglob("*")]:
        if directory.is_dir() and not (directory / "__init__.py").exists():
            (directory / "__init__.py").write_text("", encoding="utf-8")
    return tmp_path / "pkg"


def test_checker_passes_a_layered_package(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "low.py": "import os\n",
            "mid.py": "from pkg import low\nfrom pkg.low import something\n",
            "top.py": "from . import mid\nimport pkg.low\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.top"] == {"pkg.mid", "pkg.low"}
    assert graph["pkg.mid"] == {"pkg.low"}
    assert find_cycles(graph) == []


@pytest.mark.parametrize(
    ("a_source", "b_source"),
    [
        pytest.param("import pkg.b\n", "from pkg import a\n", id="top level"),
        pytest.param(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
            "from pkg.a import A\n",
            id="TYPE_CHECKING",
        ),
        pytest.param("def f():\n    from pkg import b\n", "import pkg.a\n", id="in a function"),
        pytest.param("from .b import B\n", "from . import a\n", id="relative"),
        pytest.param(
            "import importlib\nimportlib.import_module('pkg.b')\n",
            "from pkg.a import A\n",
            id="import_module",
        ),
    ],
)
def test_checker_finds_a_cycle(tmp_path: Path, a_source: str, b_source: str) -> None:
    graph = import_graph(_package(tmp_path, {"a.py": a_source, "b.py": b_source}))
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_checker_finds_a_long_cycle_across_subpackages(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "ui/app.py": "from pkg.ui.screens.scan import Scan\n",
            "ui/screens/scan.py": "from ..widgets import W\n",
            "ui/widgets.py": "class W: ...\ndef later():\n    from pkg.ui.app import App\n",
            "core.py": "",
        },
    )
    cycles = find_cycles(import_graph(package))
    assert cycles == [["pkg.ui.app", "pkg.ui.screens.scan", "pkg.ui.widgets", "pkg.ui.app"]]
    assert describe(cycles) == "pkg.ui.app → pkg.ui.screens.scan → pkg.ui.widgets → pkg.ui.app"


def test_relative_import_from_a_package_init(tmp_path: Path) -> None:
    package = _package(tmp_path, {"sub/__init__.py": "from .x import X\n", "sub/x.py": ""})
    assert import_graph(package)["pkg.sub"] == {"pkg.sub.x"}
