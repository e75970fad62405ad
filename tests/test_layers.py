"""The package layering of ``vpitracker``, read from the source with ``ast``.

A package is a sub-package of ``vpitracker`` (``vpitracker.audit``) or one of its
flat modules (``vpitracker.deps``). Every import counts, at module level, inside
functions and under ``TYPE_CHECKING`` alike: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import vpitracker

ROOT = Path(vpitracker.__file__).parent
PACKAGE = "vpitracker"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """Every ``vpitracker`` module that ``path`` (module ``name``) imports."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from vpitracker.audit import service`` imports the module, not what
                # the package's ``__init__`` defines.
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in known else target


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def module_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        graph[name] = {
            target
            for target in imported(path, name, known)
            if target in known and target != PACKAGE and target != name
        }
    return graph


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for source, targets in graph.items():
        if source == PACKAGE:
            continue
        edges = packages.setdefault(package_of(source), set())
        edges.update(package_of(t) for t in targets if package_of(t) != package_of(source))
    return packages


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# Repositories not named ``repository.py`` (docs/architecture.md): the same rules hold.
OTHER_REPOSITORIES = {"vpitracker.commitments.latest"}


def layer_of(module: str) -> str:
    if module in OTHER_REPOSITORIES:
        return "repository"
    return module.rsplit(".", 1)[-1]


def router_violations(graph: dict[str, set[str]]) -> list[str]:
    """A router imports services (and the kernel) only: no repository, no other router."""
    wrong: list[str] = []
    for source, targets in sorted(graph.items()):
        if layer_of(source) != "router":
            continue
        for target in sorted(targets):
            if layer_of(target) in {"repository", "router"}:
                wrong.append(f"{source} imports {target}")
    return wrong


# The shared floors below the domains (docs/architecture.md), lowest first: a floor
# imports no domain package and no floor of its own rank or higher. ``audited`` is
# the one floor above ``audit`` (it records the archive it makes).
FLOORS = {
    "vpitracker.kernel": 0,
    "vpitracker.records": 1,
    "vpitracker.deps": 1,
    "vpitracker.audited": 2,
    "vpitracker.resources": 2,
}
FLOOR_MAY_USE = {"vpitracker.audited": {"vpitracker.audit"}}
# What only the HTTP side (routers, pages, the command line) may import.
HTTP_FLOOR = {"vpitracker.deps", "vpitracker.resources"}


def domain_packages(graph: dict[str, set[str]]) -> set[str]:
    """Sub-packages with a service or a router: the domains the floors sit under."""
    return {
        package_of(m) for m in graph if m.count(".") == 2 and layer_of(m) in {"service", "router"}
    }


def floor_violations(graph: dict[str, set[str]]) -> list[str]:
    packages = package_graph(graph)
    domains = domain_packages(graph)
    wrong: list[str] = []
    for floor, rank in FLOORS.items():
        for target in sorted(packages.get(floor, ())):
            if target in FLOOR_MAY_USE.get(floor, set()):
                continue
            if target in domains or FLOORS.get(target, -1) >= rank:
                wrong.append(f"{floor} imports {target}")
    return wrong


def http_floor_violations(graph: dict[str, set[str]]) -> list[str]:
    """Services and repositories never reach up to request dependencies or routers."""
    wrong: list[str] = []
    for source, targets in sorted(graph.items()):
        if layer_of(source) not in {"service", "repository"}:
            continue
        for target in sorted(targets):
            if package_of(target) in HTTP_FLOOR or layer_of(target) == "router":
                wrong.append(f"{source} imports {target}")
    return wrong


class TestReader:
    """The reader finds the imports the checks rest on, so an empty graph cannot pass."""

    def test_finds_function_level_and_from_imports(self, tmp_path: Path) -> None:
        source = tmp_path / "mod.py"
        source.write_text(
            "from vpitracker.audit import service\n"
            "def f():\n"
            "    from vpitracker.deps import SessionDep\n"
            "    import vpitracker.errors\n",
            encoding="utf-8",
        )
        known = {"vpitracker.audit.service", "vpitracker.deps", "vpitracker.errors"}
        found = set(imported(source, "vpitracker.x.mod", known))
        assert known <= found

    def test_sees_the_real_packages(self) -> None:
        packages = package_graph(module_graph())
        assert "vpitracker.deps" in packages["vpitracker.commitments"]
        assert "vpitracker.errors" in packages["vpitracker.audit"]

    def test_finds_a_cycle_and_a_router_importing_a_repository(self) -> None:
        graph = {
            "vpitracker.a.router": {"vpitracker.a.repository", "vpitracker.b.service"},
            "vpitracker.a.repository": set(),
            "vpitracker.b.service": {"vpitracker.a.repository"},
            "vpitracker.a.service": {"vpitracker.b.service"},
        }
        assert cycles(package_graph(graph)) == [["vpitracker.a", "vpitracker.b"]]
        assert router_violations(graph) == ["vpitracker.a.router imports vpitracker.a.repository"]

    def test_finds_a_floor_reaching_up_and_a_service_reaching_for_http(self) -> None:
        graph = {
            "vpitracker.kernel.clock": {"vpitracker.records", "vpitracker.errors"},
            "vpitracker.records": {"vpitracker.a.service"},
            "vpitracker.audited": {"vpitracker.audit.service", "vpitracker.records"},
            "vpitracker.audit.service": set(),
            "vpitracker.a.service": {"vpitracker.resources"},
            "vpitracker.a.router": {"vpitracker.a.service"},
            "vpitracker.resources": {"vpitracker.deps", "vpitracker.kernel.clock"},
            "vpitracker.deps": set(),
        }
        assert floor_violations(graph) == [
            "vpitracker.kernel imports vpitracker.records",
            "vpitracker.records imports vpitracker.a",
        ]
        assert http_floor_violations(graph) == ["vpitracker.a.service imports vpitracker.resources"]


class TestLayers:
    """No package imports one that imports it back, and routers talk to services only."""

    def test_no_package_cycles(self) -> None:
        assert cycles(package_graph(module_graph())) == []

    def test_no_module_cycles(self) -> None:
        assert cycles(module_graph()) == []

    @pytest.mark.parametrize("kind", ["repository", "router"])
    def test_routers_import_services_only(self, kind: str) -> None:
        wrong = [line for line in router_violations(module_graph()) if line.endswith(kind)]
        assert wrong == []

    def test_floors_import_only_floors_below_them(self) -> None:
        assert floor_violations(module_graph()) == []

    def test_services_and_repositories_stay_below_http(self) -> None:
        assert http_floor_violations(module_graph()) == []
