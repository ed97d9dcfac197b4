"""An RPC's request as GraphQL arguments, and the arguments back as the request's JSON.

A request model with fields gives one argument per field (required when the model requires
it); any other request type gives one argument, ``input``; an RPC taking ``None`` none."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec
import strawberry

from interlink._handlers import Rpc
from interlink.gateway._graphql_types import KEYS, TypeBuilder, field_name, json_schema

__all__ = ["arguments", "request_json"]

_KW = inspect.Parameter.KEYWORD_ONLY


def arguments(rpc: Rpc[Any, Any], builder: TypeBuilder) -> tuple[list[inspect.Parameter], bool]:
    """The resolver's parameters, and whether they are the request's fields (else ``input``)."""
    if rpc.request.type is None:
        return [], True
    schema, defs = json_schema(rpc.request)
    target = schema
    if "$ref" in schema:
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    properties = target.get("properties")
    if target.get("type", "object") == "object" and properties:
        required = set(target.get("required", ()))
        params = []
        for key, prop in properties.items():
            needed = key in required
            ann = builder.field_annotation(prop, defs, input=True, required=needed)
            default = inspect.Parameter.empty if needed else strawberry.UNSET
            params.append(inspect.Parameter(field_name(key), _KW, annotation=ann, default=default))
        return params, True
    ann = builder.field_annotation(schema, defs, input=True, required=True)
    return [inspect.Parameter("input", _KW, annotation=ann)], False


def request_json(kwargs: dict[str, Any], flattened: bool) -> bytes:
    if not flattened:
        return msgspec.json.encode(_plain(kwargs["input"]))
    if not kwargs:
        return b"null"
    return msgspec.json.encode(
        {k: _plain(v) for k, v in kwargs.items() if v is not strawberry.UNSET}
    )


def _plain(value: Any) -> Any:
    """Strawberry's input objects as JSON-ready values (unset fields left out)."""
    keys = getattr(type(value), KEYS, None)
    if keys is not None:
        return {k: _plain(v) for k in keys if (v := getattr(value, k)) is not strawberry.UNSET}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
