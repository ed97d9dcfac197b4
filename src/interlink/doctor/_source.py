"""Reading a handler's source (``ast``) for what it calls, publishes and hard-codes.

Only what the handler's own body says literally is found: ``ctx.call(reserve, ...)`` where
``reserve`` names an Rpc, ``ctx.call("payment.charge", ...)``, ``ctx.publish("topic", ...)``,
``ctx.request("topic", ...)``, ``ctx.send("topic", ...)``, ``ctx.sagas.start(saga, ...)``,
``ctx.sagas.wait(...)``, and string constants that look like network addresses. Calls made in
helper functions, or with a target computed at run time, are invisible here (traces show them).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from interlink._handlers import Rpc
from interlink.doctor._model import Site, SiteKind
from interlink.saga import Saga

__all__ = ["scan"]

_CONTEXT_NAMES = frozenset({"ctx", "context"})
_TOPIC_METHODS: dict[str, SiteKind] = {"publish": "publish", "request": "request", "send": "send"}
_LOOPS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/]+", re.IGNORECASE)
_HOST_PORT = re.compile(
    r"^(localhost|\d{1,3}(\.\d{1,3}){3}|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d{2,5})(/\S*)?$", re.IGNORECASE
)


def scan(fn: Callable[..., Any], context_param: str | None) -> tuple[Site, ...]:
    """The sites in ``fn``'s body; () when its source cannot be read (a builtin, a lambda)."""
    try:
        lines, first = inspect.getsourcelines(fn)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return ()
    file = _shown(inspect.getsourcefile(fn) or "?")
    names = _CONTEXT_NAMES | ({context_param} if context_param else set())
    scope = _scope(fn)
    return tuple(_sites(tree, names, scope, file, first - 1))


def _shown(path: str) -> str:
    """A path under the working directory relative to it (shorter, and the same on every machine)."""
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative


def looks_like_endpoint(text: str) -> bool:
    return bool(_URL.match(text) or _HOST_PORT.match(text))


def _scope(fn: Callable[..., Any]) -> dict[str, Any]:
    scope = dict(getattr(fn, "__globals__", {}))
    try:
        closure = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return scope
    scope.update(closure.globals)
    scope.update(closure.nonlocals)
    return scope


def _sites(
    tree: ast.AST, names: frozenset[str] | set[str], scope: dict[str, Any], file: str, offset: int
) -> Iterator[Site]:
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    for node, in_loop in _walk(tree, False):
        if id(node) in docstrings:
            continue
        where = f"{file}:{getattr(node, 'lineno', 0) + offset}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if looks_like_endpoint(node.value):
                yield Site(kind="endpoint", target=node.value, line=where)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            site = _site(node, node.func, names, scope, where, in_loop)
            if site is not None:
                yield site


def _walk(node: ast.AST, in_loop: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        looped = in_loop or isinstance(node, _LOOPS)
        yield child, looped
        yield from _walk(child, looped)


def _site(
    node: ast.Call,
    func: ast.Attribute,
    names: frozenset[str] | set[str],
    scope: dict[str, Any],
    where: str,
    in_loop: bool,
) -> Site | None:
    receiver = func.value
    first = node.args[0] if node.args else None
    if _is_context(receiver, names):
        if func.attr == "call":
            timeout = any(k.arg == "timeout" for k in node.keywords)
            target = _call_target(first, scope)
            return Site(kind="call", target=target, line=where, in_loop=in_loop, timeout=timeout)
        if func.attr in _TOPIC_METHODS:
            kind = _TOPIC_METHODS[func.attr]
            return Site(kind=kind, target=_text(first, scope), line=where, in_loop=in_loop)
    if (
        isinstance(receiver, ast.Attribute)
        and receiver.attr == "sagas"
        and _is_context(receiver.value, names)
    ):
        if func.attr == "start":
            saga = _resolve(first, scope)
            name = saga.name if isinstance(saga, Saga) else None
            return Site(kind="saga", target=name, line=where)
        if func.attr == "wait":
            return Site(kind="wait", target=None, line=where)
    return None


def _is_context(node: ast.expr, names: frozenset[str] | set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    # ctx.app().call(...) in a saga step
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "app"
        and _is_context(node.func.value, names)
    )


def _call_target(node: ast.expr | None, scope: dict[str, Any]) -> str | None:
    value = _resolve(node, scope)
    if isinstance(value, Rpc):
        return value.target
    return value if isinstance(value, str) and "." in value else None


def _text(node: ast.expr | None, scope: dict[str, Any]) -> str | None:
    value = _resolve(node, scope)
    return value if isinstance(value, str) else None


def _resolve(node: ast.expr | None, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None
