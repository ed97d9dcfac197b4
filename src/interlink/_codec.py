"""Models to bytes and back: pydantic v2 models, msgspec Structs, dataclasses and JSON types.

A :class:`Codec` is built once per annotated type at definition time, so the hot path is one
pre-bound encode and one pre-bound decode call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

import msgspec
import pydantic
import pydantic_core

from interlink._errors import CodecError, DefinitionError, FieldError, ValidationFailed

__all__ = ["Codec", "codec_for", "encode_any"]

T = TypeVar("T")

_JSON_ENCODER = msgspec.json.Encoder()


class Codec(Generic[T]):
    """Encode and validate-decode one type as JSON."""

    __slots__ = ("_decode", "_encode", "name", "schema", "type")

    def __init__(
        self,
        tp: Any,
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        schema: Callable[[str], tuple[dict[str, Any], dict[str, Any]]],
    ) -> None:
        self.type = tp
        self.name = getattr(tp, "__name__", repr(tp))
        self._encode = encode
        self._decode = decode
        self.schema = schema
        """``schema(ref_template) -> (schema, definitions)`` for OpenAPI."""

    def encode(self, value: T) -> bytes:
        try:
            return self._encode(value)
        except (
            TypeError,
            ValueError,
            msgspec.EncodeError,
            pydantic_core.PydanticSerializationError,
        ) as exc:
            raise CodecError(f"cannot encode {type(value).__name__} as {self.name}: {exc}") from exc

    def decode(self, data: bytes) -> T:
        try:
            return self._decode(data)
        except pydantic.ValidationError as exc:
            raise _from_pydantic(exc, self.name) from None
        except msgspec.ValidationError as exc:
            raise _from_msgspec(exc, self.name) from None
        except msgspec.DecodeError as exc:
            raise ValidationFailed(
                f"invalid JSON for {self.name}: {exc}",
                [{"loc": [], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}],
            ) from None


def codec_for(tp: Any) -> Codec[Any]:
    """Build the codec for an annotated type, or raise DefinitionError."""
    if tp is None or tp is type(None):
        return Codec(None, lambda _v: b"null", _decode_null, lambda _r: ({"type": "null"}, {}))
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _msgspec_codec(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return _pydantic_model_codec(tp)
    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(tp)
        adapter.json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as exc:
        raise DefinitionError(f"{tp!r} is not a type interlink can encode: {exc}") from None
    return Codec(tp, adapter.dump_json, adapter.validate_json, _adapter_schema(adapter))


def encode_any(value: Any) -> bytes:
    """Encode a value whose codec is not known in advance (a published message, a CLI payload)."""
    if isinstance(value, pydantic.BaseModel):
        return value.__pydantic_serializer__.to_json(value)
    if dataclasses.is_dataclass(value) or isinstance(value, msgspec.Struct):
        return _JSON_ENCODER.encode(value)
    try:
        return _JSON_ENCODER.encode(value)
    except (TypeError, msgspec.EncodeError):
        return pydantic.TypeAdapter(type(value)).dump_json(value)


def _decode_null(data: bytes) -> None:
    if data.strip() not in (b"", b"null"):
        raise ValidationFailed(
            "expected no body", [{"loc": [], "msg": "expected null", "type": "null"}]
        )


def _pydantic_model_codec(tp: type[pydantic.BaseModel]) -> Codec[Any]:
    serializer = tp.__pydantic_serializer__

    def schema(ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
        full = tp.model_json_schema(ref_template=ref)
        defs = full.pop("$defs", {})
        defs[tp.__name__] = full
        return {"$ref": ref.format(model=tp.__name__)}, defs

    return Codec(tp, serializer.to_json, tp.model_validate_json, schema)


def _msgspec_codec(tp: type[msgspec.Struct]) -> Codec[Any]:
    decoder = msgspec.json.Decoder(tp)

    def schema(ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
        template = ref.replace("{model}", "{name}")
        (root,), defs = msgspec.json.schema_components([tp], ref_template=template)
        return dict(root), {k: dict(v) for k, v in defs.items()}

    return Codec(tp, _JSON_ENCODER.encode, decoder.decode, schema)


def _adapter_schema(
    adapter: pydantic.TypeAdapter[Any],
) -> Callable[[str], tuple[dict[str, Any], dict[str, Any]]]:
    def schema(ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
        full = adapter.json_schema(ref_template=ref)
        defs = full.pop("$defs", {})
        return full, defs

    return schema


def _from_pydantic(exc: pydantic.ValidationError, name: str) -> ValidationFailed:
    errors: list[FieldError] = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return ValidationFailed(_summary(name, errors), errors)


def _from_msgspec(exc: msgspec.ValidationError, name: str) -> ValidationFailed:
    text = str(exc)
    loc: list[str | int] = []
    if " - at `$" in text:
        text, _, path = text.partition(" - at `$")
        loc = _parse_path(path.rstrip("`"))
    error: FieldError = {"loc": loc, "msg": text, "type": "value_error"}
    return ValidationFailed(_summary(name, [error]), [error])


def _parse_path(path: str) -> list[str | int]:
    loc: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        loc.append(int(part[1:-1]) if part.startswith("[") and part[1:-1].isdigit() else part)
    return loc


def _summary(name: str, errors: Sequence[FieldError]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in cast(Sequence[Any], e["loc"])) or "body"
        parts.append(f"{where}: {e['msg']}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"invalid {name}: " + "; ".join(parts) + more
