"""The import graph of ``dialer/`` has no cycle between its packages (the layers contract in
pyproject.toml orders the layers; this also covers the packages within one layer), and SQL is
written only in the store."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp


def _package(module: str) -> str:
    """``dialer.campaigns.runner`` -> ``dialer.campaigns``; top-level modules are their own package."""
    return ".".join(module.split(".")[:2])


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph = grimp.build_graph("dialer")
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if _package(imported) != _package(module):
                edges.setdefault(_package(module), set()).add(_package(imported))
    assert len(edges) > 20  # the graph was really read
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|BEGIN|PRAGMA)\s")


def test_sql_lives_in_the_store_only() -> None:
    package = Path(__file__).resolve().parents[2] / "dialer"
    found = [
        f"{path.relative_to(package.parent)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        if "store" not in path.relative_to(package).parts[:1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value)
    ]
    assert found == []
    assert _SQL.match("SELECT 1 FROM attempts") and not _SQL.match("Select an agent")


def test_no_wait_for_in_the_product() -> None:
    """asyncio.wait_for can swallow a cancellation on Python 3.11 (dialer.tasks.wait_event says how);
    the product waits with asyncio.timeout or wait_event instead."""
    package = Path(__file__).resolve().parents[2] / "dialer"
    found = [
        f"{path.relative_to(package.parent)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "wait_for" and getattr(node.value, "id", None) == "asyncio"
    ]
    assert found == []
