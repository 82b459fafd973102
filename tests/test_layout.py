"""The shape of the product code, read from its imports (``ast``, nothing imported or run).

* no import circle, between modules or between the folders of ``bench/``, counting the
  imports inside functions too (a lazy import still ties two modules together);
* dependencies flow one way: ``strategies/`` and ``envs/`` know nothing of each other or of
  ``bench/``; ``reports/`` reads JSON and imports neither jax nor the other packages; ``bench/``
  imports nothing of ``reports/``; ``results_format/`` (the JSON format and the exit codes both
  sides share) imports none of them, nor jax or pandas;
* ``bench/conftest.py`` is hooks that delegate (short), and tests import no test module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGES = ("bench", "envs", "reports", "results_format", "strategies")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(path: Path, name: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every import statement of ``path``, at any depth, as (absolute module, names taken from it);
    ``import a.b`` is ("a.b", ())."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((base, tuple(alias.name for alias in node.names)))
    return found


def imported_names(path: Path, name: str) -> set[str]:
    """The modules ``path`` imports, and for ``from a import b`` also ``a.b`` (a module or a name)."""
    return {m for base, names in imports_of(path, name) for m in (base, *(f"{base}.{n}" for n in names))}


def import_graph() -> dict[str, set[str]]:
    """{module: the product modules it imports}. ``from a import b`` ties to the module ``a.b``
    where there is one, else to ``a`` (a name defined there); a package counts as its ``__init__``."""
    modules = product_modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for base, names in imports_of(path, name):
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if len(submodules) < len(names) or not names:
                targets.add(base)  # a name of ``base`` itself, or ``import base``
            targets.update(submodules)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def folder_of(module: str) -> str:
    """``bench.plugin.session`` -> ``bench.plugin``; a top-level module of bench stays itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bench" else parts[0]


def test_the_circle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the product code
    assert circles(graph) == []


def test_no_import_circle_between_the_folders_of_bench():
    folders: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        if module.startswith("bench."):
            here = folder_of(module)
            folders.setdefault(here, set()).update(
                folder_of(t) for t in targets if t.startswith("bench.") and folder_of(t) != here)
    assert {"bench.plugin", "bench.measure", "bench.isolation", "bench.multi"} <= set(folders)
    assert circles(folders) == []


@pytest.mark.parametrize("package, forbidden", [
    ("strategies", ("bench", "envs", "reports")),
    ("envs", ("bench", "strategies", "reports")),
    ("reports", ("bench", "envs", "strategies", "jax", "jaxlib")),
    ("bench", ("reports",)),
    ("results_format", ("bench", "envs", "reports", "strategies", "jax", "jaxlib", "pandas")),
])
def test_dependencies_flow_one_way(package, forbidden):
    bad = []
    modules = [name for name in product_modules() if name.split(".")[0] == package]
    assert len(modules) >= 3, modules  # the walk found the package
    for name, path in product_modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in imported_names(path, name):
            if imported.split(".")[0] in forbidden:
                bad.append(f"{name} imports {imported}")
    assert bad == []


def test_the_pytest_plugin_is_hooks_that_delegate():
    source = (ROOT / "bench" / "conftest.py").read_text()
    assert len(source.splitlines()) <= 150
    tree = ast.parse(source)
    hooks = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert all(h.startswith("pytest_") or h in ("es_case", "es_run", "_session") for h in hooks), hooks


def test_tests_import_helpers_not_each_other():
    test_modules = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    bad = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for imported in imported_names(path, path.stem):
            if imported.split(".")[0] in test_modules:
                bad.append(f"{path.name} imports {imported}")
    assert bad == []


def test_the_one_way_check_catches_a_planted_import(tmp_path):
    (tmp_path / "planted.py").write_text("def f():\n    from reports.load import load\n")
    assert "reports.load" in imported_names(tmp_path / "planted.py", "bench.planted")
