"""Python types to proto3 field types: what a model's field becomes in the ``.proto``.

A field is a :class:`Field`: its proto type (a scalar name or a message name), whether it is
``repeated``, a ``map<string, V>``, or ``optional`` (tracks presence: a field that has a default
or may be None). Everything else is a :class:`~interlink.DefinitionError` naming the field.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any, cast

import msgspec
import pydantic

from interlink._errors import DefinitionError

__all__ = ["SCALARS", "Field", "is_model", "model_fields", "proto_field"]

SCALARS: dict[Any, str] = {
    str: "string",
    int: "int64",
    float: "double",
    bool: "bool",
    bytes: "bytes",
    datetime.datetime: "string",
    datetime.date: "string",
}
"""Python type -> proto3 scalar. Dates and times travel as their RFC 3339 / ISO 8601 text."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    """A proto scalar (``string``, ``int64``...) or a message name."""
    number: int
    message: Any = None
    """The model class when ``type`` is a message."""
    repeated: bool = False
    map: bool = False
    optional: bool = False


def is_model(tp: Any) -> bool:
    if not isinstance(tp, type):
        return False
    return issubclass(tp, (pydantic.BaseModel, msgspec.Struct)) or dataclasses.is_dataclass(tp)


def model_fields(model: type) -> list[tuple[str, Any, bool]]:
    """(name, annotation, has a default) of each field, in declaration order."""
    if issubclass(model, pydantic.BaseModel):
        return [
            (name, info.annotation, not info.is_required())
            for name, info in model.model_fields.items()
        ]
    hints = typing.get_type_hints(model)
    if issubclass(model, msgspec.Struct):
        return [
            (f.encode_name, hints[f.name], f.required is False)
            for f in msgspec.structs.fields(model)
        ]
    return [
        (
            f.name,
            hints[f.name],
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
        )
        for f in dataclasses.fields(cast(Any, model))
    ]


def proto_field(where: str, name: str, number: int, tp: Any, defaulted: bool) -> Field:
    """The proto field for one annotation; ``where`` names it in errors."""
    tp = _strip(tp)
    inner, nullable = _unwrap_optional(tp)
    if nullable and (_is_list(inner) or _is_dict(inner)):
        raise DefinitionError(
            f"{where}: {tp} cannot be mapped to proto3: a repeated or map field cannot be None"
        )
    optional = nullable or defaulted
    if _is_list(inner):
        (item,) = typing.get_args(inner) or (None,)
        element = _element(where, item)
        return Field(name, element[0], number, element[1], repeated=True)
    if _is_dict(inner):
        args = typing.get_args(inner)
        if len(args) != 2 or _strip(args[0]) is not str:
            raise DefinitionError(f"{where}: only dict[str, V] maps to proto3 (map<string, V>)")
        element = _element(where, args[1])
        return Field(name, element[0], number, element[1], map=True)
    kind, message = _element(where, inner)
    return Field(name, kind, number, message, optional=optional)


def _element(where: str, tp: Any) -> tuple[str, type | None]:
    """A scalar or a message: what a repeated field or a map value can hold."""
    tp = _strip(tp)
    if tp in SCALARS:
        return SCALARS[tp], None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = {type(member.value) for member in tp}
        if values <= {str}:
            return "string", None
        if values <= {int}:
            return "int64", None
        raise DefinitionError(f"{where}: enum {tp.__name__} mixes value types")
    if is_model(tp):
        return tp.__name__, tp
    raise DefinitionError(
        f"{where}: {tp!r} cannot be mapped to proto3 (scalars, enums, models, list[X] and "
        "dict[str, X] can; a list or dict inside a list or dict cannot, nor unions or Any)"
    )


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0]), True
    return tp, False


def _is_list(tp: Any) -> bool:
    return tp is list or typing.get_origin(tp) in (list, set, frozenset)


def _is_dict(tp: Any) -> bool:
    return tp is dict or typing.get_origin(tp) is dict
