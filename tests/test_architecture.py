"""The shape of the code: no import cycles, I/O written once, sources kept apart from the registry."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mailsettings"
MODULES = {
    ".".join(("mailsettings", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    ): path
    for path in sorted(PACKAGE.rglob("*.py"))
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports, lazy imports included, TYPE_CHECKING ones not."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:  # a submodule by its name, anything else from ``base``
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(tree)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            walk(module)
    assert cycles == []


def test_sources_never_import_the_registry_or_the_package_root() -> None:
    forbidden = {"mailsettings", "mailsettings.registry"}
    for name, imported in GRAPH.items():
        if name.startswith(("mailsettings.sources", "mailsettings.net", "mailsettings.engine")):
            assert not imported & forbidden, (name, imported & forbidden)


def test_the_graph_sees_lazy_imports() -> None:  # the checker itself: a function-level import counts
    assert "mailsettings.autoconfig" in GRAPH["mailsettings.sources.autoconfig"]


# --- I/O written once -------------------------------------------------------------------

_A_PREFIX = re.compile(r"^a(?=[a-z_])")


class _Unasync(ast.NodeTransformer):
    """What a body would be with ``async``/``await`` and the ``a`` prefixes removed."""

    def visit_Await(self, node: ast.Await) -> ast.AST:
        rewritten: ast.AST = self.visit(node.value)
        return rewritten

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self.generic_visit(ast.For(**{f: getattr(node, f) for f in node._fields}))

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        return self.generic_visit(ast.With(**{f: getattr(node, f) for f in node._fields}))

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(id=_A_PREFIX.sub("", node.id), ctx=node.ctx)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = _A_PREFIX.sub("", node.attr)
        return node


def _unasync(statement: ast.stmt) -> ast.stmt:
    rewritten = _Unasync().visit(statement)
    assert isinstance(rewritten, ast.stmt)
    return rewritten


def _bodies() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = list(node.body)
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring
            statements = sum(isinstance(n, ast.stmt) for stmt in body for n in ast.walk(stmt))
            if statements < 3:  # delegations and getters are not twins of anything
                continue
            module = ast.Module(body=[_unasync(stmt) for stmt in body], type_ignores=[])
            found[ast.dump(module)].append(f"{name}:{node.lineno} {node.name}")
    return found


def test_no_function_body_is_written_twice_for_sync_and_async() -> None:
    twins = [places for places in _bodies().values() if len(places) > 1]
    assert twins == []


def test_the_twin_check_finds_twins() -> None:  # the checker itself, on a known pair
    source = textwrap.dedent(
        """
        def fetch(url):
            data = get(url)
            check(data)
            return data

        async def afetch(url):
            data = await aget(url)
            check(data)
            return data
        """
    )
    tree = ast.parse(source)
    dumps = [
        ast.dump(ast.Module(body=[_unasync(s) for s in f.body], type_ignores=[]))
        for f in tree.body
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    assert dumps[0] == dumps[1]


# --- what a plain lookup imports ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        (
            "import mailsettings; mailsettings.lookup('someone@qq.com')",
            ("dns", "httpx", "httpcore", "defusedxml", "ssl", "asyncio", "mailsettings.sources",
             "mailsettings.engine", "publicsuffixlist", "idna"),
        ),
        (
            "from mailsettings.sources.autoconfig import mx_domains; mx_domains('a.org', 'mx.b.net')",
            ("dns", "httpx", "httpcore"),
        ),
    ],
)
def test_what_is_imported(code: str, absent: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(done.stdout.split())
    assert [m for m in loaded if m.split(".")[0] in absent or m in absent or any(
        m.startswith(prefix + ".") for prefix in absent)] == []
