"""The shape of the house, read from the source with ``ast`` (nothing is imported).

- no import cycle among the project's modules (module-level and function-level imports alike);
- the package never imports ``benchmarks`` or ``tests``;
- no private name (``_x``, not ``__x__``) crosses from one package to another;
- the flow runs one way: ingest -> engine -> allocation -> api. The engine imports none of ingest,
  allocation and api; ingest none of allocation and api; allocation not api; and the kernels
  (engine/kernels/) nothing of ours outside themselves. ``synthetic`` (seeded data for the demo, the
  tests and the benchmarks) stands before ingest, as the sellers do: none of the flow but the
  command line imports it, and it imports nothing of ours but the engine's vocabularies.

An import names the most specific module it reaches: ``from engine.store import bulk`` is an edge to
``engine.store.bulk``, ``from engine.store.bulk import read_frame`` too, ``from ingest import
ingest_file`` an edge to ``ingest`` (the package's ``__init__``). That a submodule's import first
runs its packages' ``__init__`` is not counted as an edge: a package that re-exports its modules'
names would otherwise always be in a cycle with them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "ingest", "payments", "allocation", "api", "synthetic", "ledger", "reports", "contacts")

#: What each top-level package may not import (the flow: ingest -> engine -> allocation -> api).
#: The floors built on allocation (issues 19-21) stand beside each other, between it and the api:
#: payments (money in) before allocation, whose predicates see plans; ledger (journals) and reports
#: (analytics, ERC) and contacts (letters) after it.
LATER = ("payments", "ledger", "reports", "contacts")
FORBIDDEN = {
    "engine": ("ingest", "allocation", "api", "synthetic", *LATER),
    "ingest": ("allocation", "api", "synthetic", *LATER),
    "payments": ("allocation", "api", "synthetic", "ledger", "reports", "contacts"),
    "allocation": ("api", "synthetic", "ledger", "reports", "contacts"),
    "ledger": ("api", "synthetic", "reports", "contacts"),
    "reports": ("api", "synthetic", "contacts"),
    "contacts": ("api", "synthetic", "ledger", "reports"),
    "synthetic": ("ingest", "allocation", "api", *LATER),
}
KERNELS = "engine.kernels"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # the most specific module of ours (or the top name of another project) it reaches
    names: tuple[str, ...]  # names taken from ``target`` (``from target import a, b``); empty for ``import``
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (packages by their ``__init__``)."""
    found = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _package_of(name: str) -> str:
    """The package a module lives in (a package's ``__init__`` lives in the package itself)."""
    return name if _is_package(name) else name.rpartition(".")[0]


def _known(dotted: str) -> str | None:
    """The longest prefix of ``dotted`` that is one of our modules."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules():
            return candidate
    return None


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(importer).split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports() -> tuple[Import, ...]:
    """Every import statement of the package, wherever it stands (module level, functions, classes)."""
    found = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(name, _known(alias.name) or alias.name, (), path, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, node)
                taken: dict[str, list[str]] = {}
                for alias in node.names:
                    submodule = _known(f"{source}.{alias.name}")
                    if submodule == f"{source}.{alias.name}":
                        taken.setdefault(submodule, [])  # ``from pkg import module``
                    else:
                        taken.setdefault(_known(source) or source, []).append(alias.name)
                for target, names in taken.items():
                    found.append(Import(name, target, tuple(names), path, node.lineno))
    return tuple(found)


def _ours(target: str) -> bool:
    return target in modules()


def _top(name: str) -> str:
    return name.partition(".")[0]


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def _a_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module (breadth first: a shortest one)."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in {component}")  # a strongly connected component always has one


def import_cycles() -> list[str]:
    """Each cycle, as ``a (file:line) -> b (file:line) -> a``, one per strongly connected component."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    where: dict[tuple[str, str], str] = {}
    for imp in imports():
        if _ours(imp.target) and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
            where.setdefault((imp.importer, imp.target), imp.where())
    cycles = []
    for component in _strongly_connected(graph):
        cycle = _a_cycle(component, graph)
        steps = " -> ".join(f"{a} ({where[a, b]})" for a, b in zip(cycle, cycle[1:], strict=False))
        cycles.append(f"{steps} -> {cycle[0]}  [component: {', '.join(component)}]")
    return cycles


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_crossings() -> list[str]:
    """Private names taken by a module of another package: ``from engine.store.database import
    _create`` in engine/executors.py, or ``bulk._quote`` through ``from engine.store import bulk``."""
    found = []
    for imp in imports():
        if not _ours(imp.target) or _package_of(imp.importer) == _package_of(imp.target):
            continue
        for name in imp.names:
            if _private(name):
                found.append(f"{imp.where()}: {imp.importer} takes {imp.target}.{name}")
        if any(_private(part) for part in imp.target.split(".")):
            found.append(f"{imp.where()}: {imp.importer} imports the private module {imp.target}")
    found.extend(_private_attributes())
    return found


def _private_attributes() -> list[str]:
    """``alias._name`` where ``alias`` is a module of another package bound by an import."""
    found = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bound: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and _ours(alias.name):
                        bound[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, node)
                for alias in node.names:
                    if _ours(f"{source}.{alias.name}"):
                        bound[alias.asname or alias.name] = f"{source}.{alias.name}"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and _private(node.attr)
                and _package_of(bound[node.value.id]) != _package_of(name)
            ):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.append(f"{where}: {name} takes {bound[node.value.id]}.{node.attr}")
    return found


def flow_violations() -> list[str]:
    found = []
    for imp in imports():
        top = _top(imp.importer)
        if _top(imp.target) in FORBIDDEN.get(top, ()):
            found.append(
                f"{imp.where()}: {imp.importer} imports {imp.target} ({top} may not import {_top(imp.target)})"
            )
        in_kernels = imp.importer == KERNELS or imp.importer.startswith(KERNELS + ".")
        target_in_kernels = imp.target == KERNELS or imp.target.startswith(KERNELS + ".")
        if in_kernels and _top(imp.target) in PACKAGES and not target_in_kernels:
            found.append(f"{imp.where()}: the kernel module {imp.importer} imports {imp.target}")
    return found


# --- the guards ----------------------------------------------------------------------------------


def test_the_walk_sees_the_whole_package():
    """The guards below are only as good as the walk: it finds the modules and their imports."""
    names = modules()
    assert {"engine", "engine.kernels.claim_state", "ingest.pipeline", "api"} <= set(names)
    edges = {(i.importer, i.target) for i in imports()}
    assert ("engine.kernels.claim_state", "engine.kernels.interest") in edges  # a module-level import
    assert ("engine.kernels.claim_state", "engine.kernels.codes") in edges  # ``from engine.kernels import codes``


def test_no_import_cycle():
    cycles = import_cycles()
    assert not cycles, "import cycles among the project's modules:\n" + "\n".join(cycles)


def test_the_package_never_imports_benchmarks_or_tests():
    found = [
        f"{i.where()}: {i.importer} imports {i.target}" for i in imports() if _top(i.target) in ("benchmarks", "tests")
    ]
    assert not found, "the package imports what the wheel does not ship:\n" + "\n".join(found)


def test_no_private_name_crosses_packages():
    found = private_crossings()
    assert not found, "private names used outside their package:\n" + "\n".join(found)


def test_the_flow_runs_one_way():
    found = flow_violations()
    assert not found, "imports against the flow ingest -> engine -> allocation -> api:\n" + "\n".join(found)


# --- the walk itself, on made-up sources ---------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),  # a self-import is no cycle here
    ],
)
def test_strongly_connected_components(graph, expected):
    assert _strongly_connected(graph) == expected


def test_a_cycle_is_named_in_order():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "b"}}
    assert _a_cycle(["a", "b", "c"], graph) == ["a", "b", "c", "a"]


def test_the_wheel_ships_the_package_only():
    """pyproject's wheel holds the four packages, not benchmarks/ or tests/ (checked by hand with
    ``uv build --wheel``: rule tables, seller profiles and migrations ride along as package data)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]) == sorted(PACKAGES)
