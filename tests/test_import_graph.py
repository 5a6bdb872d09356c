"""The package's dependencies point one way (issue 14): data -> estimators -> costs -> config -> report ->
runner -> cli, with no import cycles.

The graph is read from the source (every ``import`` and ``from ... import``, including those inside
functions, since a lazy import is still a dependency), except imports under ``if TYPE_CHECKING:``, which
are type hints only.  A package's ``__init__`` re-exports lazily and is not a layer of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ehimpact"

#: layer of each top-level part of the package; an import may only go to the same or a lower layer
LAYERS = {
    "errors": 0, "yamlio": 0, "jsonsafe": 0,
    "data": 1,
    "estimators": 2,
    "costs": 3,
    "config": 4,
    "report": 5,
    "runner": 6,
    "cli": 7,
}
EXEMPT = {"ehimpact", "ehimpact.testing"}  # the public facade and the conformance helper for partners


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    packages = {name for name, p in files.items() if p.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not module.startswith("ehimpact"):
                continue
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in files]
            if subs:
                deps.update(subs)
            if len(subs) < len(names) or not names:
                if module in files and module not in packages:
                    deps.add(module)
        graph[name] = deps - {name}
    return graph


def _layer(module: str) -> int | None:
    if module in EXEMPT:
        return None
    top = module.split(".")[1]
    return LAYERS.get(top)


def test_no_upward_imports() -> None:
    upward = []
    for module, deps in _graph().items():
        lm = _layer(module)
        if lm is None:
            continue
        for dep in deps:
            ld = _layer(dep)
            if ld is not None and ld > lm:
                upward.append(f"{module} -> {dep}")
    assert not upward, "imports that point up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_graph_is_read() -> None:
    """The reader must see real edges, or the two tests above would pass vacuously."""
    graph = _graph()
    assert "ehimpact.errors" in graph["ehimpact.estimators.did"]
    assert "ehimpact.estimators._panel" in graph["ehimpact.estimators.bacon"]
    assert len(graph) > 50


@pytest.mark.parametrize("module", ["ehimpact.estimators.did", "ehimpact.data.cin"])
def test_layers_cover_the_package(module: str) -> None:
    assert _layer(module) is not None
