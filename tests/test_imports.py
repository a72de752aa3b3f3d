"""The import graph of claims/ and reference_impl/ has no circle, and no module imports another's private name.

The graph is built from the source with ``ast``: every import statement counts, the deferred ones inside
functions too (they only hide a circle until the function runs); only imports under ``if TYPE_CHECKING:``
are left out (never executed). Importing ``a.b.c`` from outside ``a`` runs ``a/__init__`` and
``a/b/__init__`` first, so those packages are edges too, except the importer's own enclosing packages
(already imported before it runs); a name imported from an enclosing package itself
(``from . import __version__``) is an edge to that package.

Modules being rebuilt elsewhere (REBUILT) are left out of the first two tests; a test per group lists
what they still have (expected to fail until the rebuild lands; it passes once they are clean).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("claims", "reference_impl")
# groups of modules rebuilt elsewhere: their circles and private imports are listed by their own test
REBUILT: dict[str, tuple[str, ...]] = {}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    """The longest prefix of ``name`` that is a module of the graph."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _packages_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a ``from X import`` statement imports from."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """(module -> the modules it imports, [(importer, module, private name) for each private name imported])."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    private = []
    for module, (path, is_package) in MODULES.items():
        own = set(_packages_of(module)) | ({module} if is_package else set())
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets |= {t for t in (_known(a.name) for a in node.names) if t}
                continue
            base = _base(module, is_package, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:  # a submodule
                    targets.add(f"{base}.{alias.name}")
                    continue
                target = _known(base)
                if target is None:
                    continue
                targets.add(target)
                if alias.name.startswith("_") and not alias.name.startswith("__") and target != module:
                    private.append((module, target, alias.name))
        for target in targets:  # the packages a target's import runs, except those already imported
            edges[module] |= {p for p in _packages_of(target) if p in MODULES and p not in own} | {target}
        edges[module].discard(module)
    return edges, private


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    found.append(sorted(component))
    return found


def _group(name: str) -> str | None:
    """The REBUILT group ``name`` belongs to, if any."""
    return next((g for g, prefixes in REBUILT.items() if name.startswith(prefixes)), None)


def _rebuilt(modules: list[str] | tuple[str, ...]) -> str | None:
    """The REBUILT group all of ``modules`` belong to, if they all belong to one."""
    groups = {_group(m) for m in modules}
    return groups.pop() if len(groups) == 1 else None


def _describe(circle: list[str], edges: dict[str, set[str]]) -> str:
    return "; ".join(f"{m} -> {', '.join(sorted(edges[m] & set(circle)))}" for m in circle)


EDGES, PRIVATE = _graph()


def test_the_graph_sees_deferred_imports_and_packages():
    """Meta test: a deferred import is an edge, and so is the package a submodule import runs."""
    assert "claims.properties" in EDGES["claims.run"]  # a top-level relative import
    assert "reference_impl" in EDGES["claims.spec"]  # from reference_impl.protocol: runs reference_impl/__init__
    assert "reference_impl.controls" in EDGES["claims.digest"]  # a deferred import inside a function


def test_no_import_circles():
    circles = [c for c in _circles(EDGES) if _rebuilt(c) is None]
    assert not circles, "import circles: " + " | ".join(_describe(c, EDGES) for c in circles)


def test_no_private_name_imported_across_modules():
    crossing = [p for p in PRIVATE if _group(p[0]) is None]
    assert not crossing, "private names imported across modules: " + ", ".join(
        f"{importer} imports {name} from {module}" for importer, module, name in crossing)


@pytest.mark.xfail(reason="modules being rebuilt elsewhere; passes once they have no circle and no private import",
                   strict=False)
@pytest.mark.parametrize("group", list(REBUILT))
def test_modules_being_rebuilt(group):
    circles = [c for c in _circles(EDGES) if _rebuilt(c) == group]
    crossing = [p for p in PRIVATE if _group(p[0]) == group]
    assert not circles and not crossing, (
        f"{group}: circles " + " | ".join(_describe(c, EDGES) for c in circles)
        + "; private names " + ", ".join(f"{i} imports {n} from {m}" for i, m, n in crossing))
