"""Binding an HTTP request to a REST handler's typed path, query and body parameters."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

import msgspec
import pydantic

from interlink._codec import Codec, codec_for
from interlink._errors import DefinitionError, FieldError, ValidationFailed
from interlink._signature import Signature

__all__ = ["RouteParams", "build_route_params", "path_names"]

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def path_names(path: str) -> list[str]:
    return _PATH_PARAM.findall(path)


@dataclasses.dataclass(frozen=True, slots=True)
class RouteParams:
    path: tuple[str, ...]
    query: tuple[str, ...]
    multi: frozenset[str]
    """Query parameters annotated as lists: ``?tag=a&tag=b``."""
    model: type[pydantic.BaseModel]
    """Validates path and query parameters together (strings coerced to their types)."""
    body: str | None
    body_codec: Codec[Any] | None
    context: str | None

    def bind(
        self,
        path_params: Mapping[str, str],
        query: Mapping[str, str],
        query_lists: Mapping[str, Sequence[str]],
        body: bytes,
    ) -> dict[str, Any]:
        raw: dict[str, Any] = {n: path_params[n] for n in self.path}
        for name in self.query:
            if name in self.multi:
                if query_lists.get(name):
                    raw[name] = list(query_lists[name])
            elif name in query:
                raw[name] = query[name]
        errors: list[FieldError] = []
        kwargs: dict[str, Any] = {}
        try:
            kwargs.update(dict(self.model.model_validate(raw)))
        except pydantic.ValidationError as exc:
            errors.extend(
                {"loc": [self._where(e["loc"]), *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            )
        if self.body is not None and self.body_codec is not None:
            try:
                kwargs[self.body] = self.body_codec.decode(body)
            except ValidationFailed as exc:
                errors.extend({**e, "loc": ["body", *e["loc"]]} for e in exc.errors)
        if errors:
            raise ValidationFailed("; ".join(_describe(e) for e in errors[:5]), errors)
        return kwargs

    def _where(self, loc: tuple[int | str, ...]) -> str:
        return "path" if loc and loc[0] in self.path else "query"


def build_route_params(method: str, path: str, sig: Signature, what: str) -> RouteParams:
    in_path = path_names(path)
    fields: dict[str, Any] = {}
    body: str | None = None
    body_codec: Codec[Any] | None = None
    for p in sig.params:
        if p.name not in in_path and _is_body_type(p.annotation):
            if method not in _BODY_METHODS:
                raise DefinitionError(f"{what}: a {method} route cannot take a body ({p.name!r})")
            if body is not None:
                raise DefinitionError(
                    f"{what}: only one body parameter allowed ({body!r}, {p.name!r})"
                )
            body, body_codec = p.name, codec_for(p.annotation)
            continue
        fields[p.name] = (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
    missing = [n for n in in_path if n not in fields]
    if missing:
        raise DefinitionError(f"{what}: path parameter(s) {missing} have no matching argument")
    model = pydantic.create_model(f"{what.replace(' ', '_')}_params", **fields)
    query = tuple(n for n in fields if n not in in_path)
    multi = frozenset(n for n in query if get_origin(fields[n][0]) in (list, tuple, set))
    return RouteParams(tuple(in_path), query, multi, model, body, body_codec, sig.context)


def _is_body_type(tp: Any) -> bool:
    candidates = get_args(tp) if get_origin(tp) is not None else (tp,)
    return any(
        isinstance(t, type)
        and (issubclass(t, (pydantic.BaseModel, msgspec.Struct)) or dataclasses.is_dataclass(t))
        for t in candidates
    )


def _describe(error: FieldError) -> str:
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
