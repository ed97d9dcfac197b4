"""Reading a handler's signature once, at definition time, with clear errors."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from interlink._errors import DefinitionError

__all__ = ["Param", "Signature", "read_signature"]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required


@dataclass(frozen=True, slots=True)
class Signature:
    params: tuple[Param, ...]
    """Every parameter except the context, in order."""
    context: str | None
    """The name of the ``il.Context`` parameter, if the handler takes one."""
    returns: Any


def read_signature(
    fn: Callable[..., Any], what: str, context_type: type, *, streams: bool = False
) -> Signature:
    """Inspect ``fn``; raise DefinitionError naming ``what`` when it cannot be a handler.
    ``streams``: an async generator function (a streaming handler) is accepted too."""
    if not (inspect.iscoroutinefunction(fn) or (streams and inspect.isasyncgenfunction(fn))):
        raise DefinitionError(f"{what}: handler {_name(fn)} must be an `async def` function")
    try:
        hints = get_type_hints(fn)
    except NameError as exc:
        raise DefinitionError(
            f"{what}: cannot resolve an annotation of {_name(fn)}: {exc}"
        ) from None
    if "return" not in hints:
        raise DefinitionError(
            f"{what}: {_name(fn)} needs a return annotation (`-> Model` or `-> None`)"
        )
    params: list[Param] = []
    context: str | None = None
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(f"{what}: {_name(fn)} may not take *args or **kwargs")
        if p.name not in hints:
            raise DefinitionError(
                f"{what}: parameter {p.name!r} of {_name(fn)} needs an annotation"
            )
        annotation = hints[p.name]
        if isinstance(annotation, type) and issubclass(annotation, context_type):
            if context is not None:
                raise DefinitionError(f"{what}: {_name(fn)} takes the context twice")
            context = p.name
            continue
        params.append(Param(p.name, annotation, p.default))
    return Signature(tuple(params), context, hints["return"])


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', fn)!s}()"
