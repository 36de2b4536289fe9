"""The shape of the house, checked over ``ast`` (no import of glance needed):

- the import graph of ``glance.*`` has no cycle (imports inside functions and under
  ``TYPE_CHECKING`` count too: a circle is a circle);
- no module reaches into another's private names: no ``x._name`` where ``x`` is not
  ``self``/``cls`` (or ``super()``), and no ``from glance.… import _name``;
- no module in ``glance/`` is longer than MAX_LINES (but for those listed, with why).
"""

from __future__ import annotations

import ast
from pathlib import Path

GLANCE = Path(__file__).resolve().parent.parent / "glance"
MAX_LINES = 400

# Modules allowed past MAX_LINES, each with its reason.
LONG_MODULES: dict[str, str] = {}

# Private attributes of third-party objects we must use, each with its reason.
THIRD_PARTY_PRIVATES: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(GLANCE.rglob("*.py")):
        parts = path.relative_to(GLANCE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue  # Alembic scripts: loaded by Alembic, never imported
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, tree: ast.Module) -> set[str]:
    """The glance modules ``name`` imports."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("glance"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("glance"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in MODULES else base)
    return {m for m in out if m in MODULES and m != name}


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, ast.parse(path.read_text())) for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _is_private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _reach_ins(name: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) \
                    and owner.func.id == "super":
                continue
            if node.attr in THIRD_PARTY_PRIVATES:
                continue
            found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glance"):
            found += [f"{name}:{node.lineno}: from {node.module} import {a.name}"
                      for a in node.names if _is_private(a.name)]
    return found


def test_glance_imports_have_no_cycle() -> None:
    graph = _graph()
    assert "glance.service.facade" in graph and graph["glance.service.facade"], "graph is empty"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_reaches_into_another_modules_private_names() -> None:
    found = [hit for name, path in MODULES.items()
             for hit in _reach_ins(name, ast.parse(path.read_text()))]
    assert found == [], "private names used across modules:\n" + "\n".join(found)


def test_no_module_is_too_long() -> None:
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES and name not in LONG_MODULES}
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


# The service's rooms, lowest first: each may import only rooms listed before it (copies and
# recovery never the facade), and none the package ``glance.service`` itself.
# (imports come after copies: an import into several stores copies into the others)
SERVICE_ROOMS = ("requests", "core", "access", "pipeline", "cache", "data", "members", "metadefs",
                 "tickets", "copies", "remote", "imports", "locations", "tasks", "recovery",
                 "upkeep", "health", "facade")


def test_the_service_rooms_never_point_back_up() -> None:
    graph = _graph()
    rooms = {f"glance.service.{room}": i for i, room in enumerate(SERVICE_ROOMS)}
    assert set(rooms) == {m for m in MODULES if m.startswith("glance.service.")}
    for name, rank in rooms.items():
        for imported in graph[name]:
            assert imported != "glance.service", f"{name} imports the package"
            if imported in rooms:
                assert rooms[imported] < rank, f"{name} imports {imported}, a room above it"


def test_the_checks_catch_what_they_should() -> None:
    """The checkers themselves: a cycle, a reach-in and a private import are found."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("import x\nx._hidden\nself._ok\ncls._ok\nx.__dict__\n"
                     "from glance.core import _secret\n")
    assert sorted(hit.split(": ", 1)[1] for hit in _reach_ins("m", tree)) == [
        "from glance.core import _secret", "x._hidden"]
