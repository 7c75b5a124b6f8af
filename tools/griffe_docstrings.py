"""Docstrings written for ``help()`` and doctest, as the API reference renders them.

A griffe extension, loaded by ``mkdocs.yml`` for ``docs/reference.md``. The library's
docstrings use reST roles (:class:`Registry`) and ``>>>`` examples in running text;
mkdocstrings reads Markdown, where a role is literal text and ``>>>`` starts a quote.
Before rendering, this extension turns each example into a ``pycon`` code block and
each role into a link to the object where the reference documents it (plain code when
it does not). It shows ``Annotated[X, ...]`` as ``X`` (what callers pass), and gives each
pydantic field the ``description`` of its ``Field`` as its docstring and the field's
default as its value.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|mod|data|exc|obj|const):`(~?)([\w.]+)`")
_CALLABLE_ROLES = frozenset({"meth", "func"})
_FENCE = re.compile(r"\s*(```|~~~)")
_PROMPT = re.compile(r"(\s*)>>>(?: |$)")


class DocstringsForTheReference(griffe.Extension):
    """Rewrite docstrings into the Markdown that mkdocstrings renders."""

    def on_attribute_instance(
        self,
        *,
        node: ast.AST | griffe.ObjectNode,
        attr: griffe.Attribute,
        agent: griffe.Visitor | griffe.Inspector,
        **kwargs: Any,
    ) -> None:
        """Plain annotations; a pydantic field's description as docstring, its default as value."""
        annotation = getattr(node, "annotation", None)
        if isinstance(annotation, ast.expr) and isinstance(attr.parent, griffe.Module | griffe.Class):
            plain = _WithoutAnnotated().visit(copy.deepcopy(annotation))
            if ast.dump(plain) != ast.dump(annotation):
                attr.annotation = griffe.safe_get_annotation(plain, attr.parent)
        value = getattr(node, "value", None)
        if not (isinstance(value, ast.Call) and _called_name(value) == "Field"):
            return
        keywords = {keyword.arg: keyword.value for keyword in value.keywords if keyword.arg}
        description = keywords.get("description")
        if (
            attr.docstring is None
            and isinstance(description, ast.Constant)
            and isinstance(description.value, str)
        ):
            attr.docstring = griffe.Docstring(description.value, parent=attr)
        default = value.args[0] if value.args else keywords.get("default")
        factory = keywords.get("default_factory")
        if default is not None and not (isinstance(default, ast.Constant) and default.value is ...):
            attr.value = ast.unparse(default)
        elif factory is not None:
            attr.value = f"{ast.unparse(factory)}()"
        else:
            attr.value = None  # a required field

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite every docstring of the package once it is loaded."""
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value, obj)


def markdown(text: str, obj: griffe.Object) -> str:
    """``text`` with doctest examples fenced and reST roles turned into references."""
    lines: list[str] = []
    fenced = False
    example: str | None = None  # the indentation of the open example
    for line in text.splitlines():
        if example is not None:
            if line.strip():
                lines.append(line)
                continue
            lines.append(f"{example}```")
            example = None
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (prompt := _PROMPT.match(line)):
            example = prompt[1]
            lines.extend(["", f"{example}```pycon", line])
            continue
        lines.append(line if fenced else _ROLE.sub(lambda match: _reference(match, obj), line))
    if example is not None:
        lines.append(f"{example}```")
    return "\n".join(lines)


def _reference(match: re.Match[str], obj: griffe.Object) -> str:
    role, short, name = match[1], match[2], match[3]
    title = name.rpartition(".")[2] if short else name
    if role in _CALLABLE_ROLES:
        title += "()"
    identifier = _resolve(name, obj)
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def _resolve(name: str, obj: griffe.Object) -> str:
    """The full path of ``name`` as seen from ``obj``, or ``name`` when it cannot be resolved."""
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            path = scope.resolve(first)
        except griffe.NameResolutionError:
            scope = scope.parent
            continue
        return f"{path}.{rest}" if rest else path
    return name


class _WithoutAnnotated(ast.NodeTransformer):
    """``Annotated[X, ...]`` -> ``X``, anywhere in an annotation (changes the tree it visits)."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        name = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        visited: ast.AST
        if name == "Annotated" and isinstance(node.slice, ast.Tuple) and node.slice.elts:
            visited = self.visit(node.slice.elts[0])
        else:
            visited = self.generic_visit(node)
        return visited


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            yield from _objects(member)
