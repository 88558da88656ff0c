"""No import circle anywhere under src/lstmkit, counting imports inside functions too.

An import inside a function is how a circle is usually hidden (it runs later, so Python does not
fail), and it still ties the modules together: this test reads every import statement with `ast`,
wherever it sits, except under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports. `from a.b import c` is an edge to a.b.c when that
    is a module, else to a.b; the parent packages a submodule import runs are not counted."""
    files = {_module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:  # `import a.b.c` where c is a name: its module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def circle_through(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, as a chain a -> b -> ... -> a (breadth
    first within the component; a strongly connected component always has one)."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    chain = [v]
                    while chain[-1] != start:
                        chain.append(came_from[chain[-1]])
                    return [start, *reversed(chain[:-1]), start]
                if w not in came_from:
                    came_from[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{component} is not strongly connected")


def test_no_import_circle_in_lstmkit():
    graph = import_graph(SRC, "lstmkit")
    assert len(graph) > 50  # the walk found the package
    found = cycles(graph)
    assert not found, "import circles (each: its modules, then one circle through them):\n" + "\n".join(
        f"{', '.join(c)}\n    " + " -> ".join(circle_through(graph, c)) for c in found)


def test_the_checker_finds_a_circle_hidden_in_a_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import thing\n    return thing\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "d.py").write_text("from . import c\n")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("from . import e\n")
    (pkg / "sub" / "e.py").write_text("class K:\n    def m(self):\n        from ..d import x\n        from .. import c\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == set() and graph["pkg.d"] == {"pkg.c"}
    assert graph["pkg.sub"] == {"pkg.sub.e"} and graph["pkg.sub.e"] == {"pkg.d", "pkg.c"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert circle_through(graph, ["pkg.a", "pkg.b"]) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_circle_is_reported_as_a_chain_through_its_modules():
    graph = {"m.a": {"m.b"}, "m.b": {"m.c", "m.x"}, "m.c": {"m.a", "m.b"}, "m.x": set()}
    assert cycles(graph) == [["m.a", "m.b", "m.c"]]
    assert circle_through(graph, ["m.a", "m.b", "m.c"]) == ["m.a", "m.b", "m.c", "m.a"]


@pytest.mark.parametrize("source,target", [
    ("from lstmkit.ops import reference", "lstmkit.ops.reference"),
    ("from lstmkit.ops.dispatch import lstm", "lstmkit.ops.dispatch"),
    ("import lstmkit.ops.cpu", "lstmkit.ops.cpu"),
    ("from lstmkit import ops", "lstmkit.ops"),
])
def test_edges_resolve_to_modules(tmp_path, source, target):
    for mod in ("lstmkit/__init__", "lstmkit/ops/__init__", "lstmkit/ops/reference", "lstmkit/ops/dispatch",
                "lstmkit/ops/cpu", "lstmkit/user"):
        path = tmp_path / f"{mod}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source + "\n" if mod == "lstmkit/user" else "")
    assert import_graph(tmp_path, "lstmkit")["lstmkit.user"] == {target}
