"""GraphQL types from the JSON Schema of an RPC's request and response models.

Going through JSON Schema treats pydantic models, msgspec Structs, dataclasses and plain types
alike, and makes a GraphQL field carry exactly the JSON the RPC's HTTP API carries:

* ``string`` (dates, UUIDs, enums included) → ``String``; ``integer`` → ``Int``; ``number`` →
  ``Float``; ``boolean`` → ``Boolean``; ``array`` → a list; an object with ``properties`` → an
  object type (an input type named ``…Input`` for arguments); anything else (maps, unions of
  several types, ``Any``) → the ``JSON`` scalar.
* a field is nullable when its schema allows null, or (in outputs) when it is optional with no
  default; an optional input field may be left out, and the model's default applies.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable, Mapping
from typing import Any, Optional

import pydantic
import strawberry
from strawberry.scalars import JSON

from interlink._codec import Codec
from interlink._errors import DefinitionError

__all__ = ["TypeBuilder", "json_schema"]

REF = "#/$defs/{model}"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_SCALARS: Mapping[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}

KEYS = "__interlink_keys__"
"""Set on each generated input class: its field names (as sent to the RPC)."""


def json_schema(codec: Codec[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    tp = codec.type
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        full = tp.model_json_schema(ref_template=REF)  # keeps recursive models' definitions
        defs = full.pop("$defs", {})
        return full, defs
    return codec.schema(REF)


class TypeBuilder:
    """Builds (and reuses, by name) the strawberry classes of one schema."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, bool], tuple[str, Any]] = {}
        self._taken: set[str] = set()

    def annotation(self, schema: Mapping[str, Any], defs: Mapping[str, Any], *, input: bool) -> Any:
        """The annotation of a value that must be present (wrap in Optional for the rest)."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return self._named(name, defs.get(name, {}), defs, input=input)
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0], defs, input=input)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            rest = [o for o in options if o.get("type") != "null"]
            if len(rest) == 1:
                return self.annotation(rest[0], defs, input=input)
            return JSON
        kind = schema.get("type")
        if isinstance(kind, str) and kind in _SCALARS:
            return _SCALARS[kind]
        if "enum" in schema or "const" in schema:
            return str
        if kind == "array" and "items" in schema:
            item = self.field_annotation(schema["items"], defs, input=input, required=True)
            return list[item]  # type: ignore[valid-type]
        if kind == "object" and schema.get("properties"):
            return self._named(schema.get("title", "Object"), schema, defs, input=input)
        return JSON

    def field_annotation(
        self, schema: Mapping[str, Any], defs: Mapping[str, Any], *, input: bool, required: bool
    ) -> Any:
        inner = self.annotation(schema, defs, input=input)
        return inner if required and not nullable(schema) else Optional[inner]  # noqa: UP045

    def _named(
        self, name: str, schema: Mapping[str, Any], defs: Mapping[str, Any], *, input: bool
    ) -> Any:
        if not schema.get("properties") or schema.get("type", "object") != "object":
            return self.annotation(schema, defs, input=input) if schema.get("type") else JSON
        fingerprint = json.dumps(schema, sort_keys=True, default=str)
        built = self._built.get((fingerprint, input))
        if built is not None:
            return built[1]
        cls = type(self._fresh(_graphql_name(name) + ("Input" if input else "")), (), {})
        # Registered before its fields are built, so that a recursive model refers to itself.
        self._built[(fingerprint, input)] = (cls.__name__, cls)
        required = set(schema.get("required", ()))
        build = _input_fields if input else _output_fields
        build(cls, self, schema["properties"], required, defs)
        return (strawberry.input if input else strawberry.type)(cls)

    def _fresh(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{name}{n}"
        self._taken.add(candidate)
        return candidate


def nullable(schema: Mapping[str, Any]) -> bool:
    options = schema.get("anyOf") or schema.get("oneOf") or ()
    return schema.get("type") == "null" or any(o.get("type") == "null" for o in options)


def _graphql_name(name: str) -> str:
    cleaned = re.sub(r"[^_0-9A-Za-z]", "_", name)
    return cleaned if _NAME.fullmatch(cleaned) else f"T_{cleaned}"


def field_name(key: str) -> str:
    if not _NAME.fullmatch(key) or keyword.iskeyword(key) or key.startswith("__"):
        raise DefinitionError(f"{key!r} is not a field name GraphQL (and Python) can use")
    return key


def _output_fields(
    cls: type,
    builder: TypeBuilder,
    properties: Mapping[str, Any],
    required: set[str],
    defs: Mapping[str, Any],
) -> None:
    for key, schema in properties.items():
        present = key in required or "default" in schema
        ann = builder.field_annotation(schema, defs, input=False, required=present)
        setattr(
            cls,
            field_name(key),
            strawberry.field(resolver=_getter(key, ann, schema.get("default"))),
        )


def _input_fields(
    cls: type,
    builder: TypeBuilder,
    properties: Mapping[str, Any],
    required: set[str],
    defs: Mapping[str, Any],
) -> None:
    annotations: dict[str, Any] = {}
    for key, schema in properties.items():
        needed = key in required
        annotations[field_name(key)] = builder.field_annotation(
            schema, defs, input=True, required=needed
        )
        if not needed:
            setattr(cls, key, strawberry.UNSET)
    cls.__annotations__ = annotations
    setattr(cls, KEYS, tuple(annotations))


def _getter(key: str, annotation: Any, default: Any) -> Callable[..., Any]:
    parent: Any = strawberry.Parent[Any]  # type: ignore[misc]

    def get(root: strawberry.Parent[Any]) -> Any:
        return root.get(key, default)

    get.__annotations__ = {"root": parent, "return": annotation}
    return get
