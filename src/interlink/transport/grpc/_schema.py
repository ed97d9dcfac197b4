"""The ``.proto`` of a set of services: one message per model, one ``service`` per interlink
service, one ``rpc`` per method (see docs/transports.md, "gRPC").

A request or answer type that is not a model (``dict[str, int]``, ``list[Item]``, ``None``...)
is wrapped in a message named after the method (``AnalyticsStatsRequest``,
``NotificationRecentResponse``) whose
one field ``value`` holds it; ``None`` is a message with no field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlink._errors import DefinitionError
from interlink.transport.grpc._types import Field, is_model, model_fields, proto_field

if TYPE_CHECKING:
    from interlink._service import Service

__all__ = ["Method", "Schema", "package_name", "schema_of"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Method:
    service: str
    name: str
    request: str
    response: str
    wrapped_request: bool
    wrapped_response: bool
    streaming: bool = False
    """Server-streaming: the answer is a stream of ``response`` messages, one per item."""


@dataclass(frozen=True, slots=True)
class Schema:
    package: str
    messages: dict[str, list[Field]]
    methods: list[Method]

    def proto(self) -> str:
        """The ``.proto`` (proto3) text."""
        lines = ['syntax = "proto3";', "", f"package {self.package};", ""]
        for name, fields in self.messages.items():
            lines.append(f"message {name} {{")
            lines.extend(f"  {_render(field)};" for field in fields)
            lines.extend(("}", ""))
        for service in dict.fromkeys(m.service for m in self.methods):
            lines.append(f"service {service} {{")
            lines.extend(
                f"  rpc {m.name} ({m.request}) returns ({'stream ' * m.streaming}{m.response});"
                for m in self.methods
                if m.service == service
            )
            lines.extend(("}", ""))
        return "\n".join(lines)


def package_name(app_name: str) -> str:
    """The App's name as a proto package: lowercase, other characters as ``_``."""
    name = re.sub(r"[^a-z0-9_.]", "_", app_name.lower()).strip(".")
    return name if name and not name[0].isdigit() else f"_{name}"


def schema_of(package: str, services: Iterable[Service]) -> Schema:
    """Every RPC of ``services``; DefinitionError names what cannot be mapped."""
    builder = _Builder()
    methods = []
    for service in services:
        _check_identifier(service.name, f"service {service.name}")
        for rpc in service.rpcs.values():
            where = f"rpc {rpc.target}"
            _check_identifier(rpc.name, where)
            camel = _camel(service.name) + _camel(rpc.name)
            request, wrapped_in = builder.top(where, rpc.request.type, f"{camel}Request")
            # A streaming RPC's response codec is its item's.
            response, wrapped_out = builder.top(where, rpc.response.type, f"{camel}Response")
            methods.append(
                Method(
                    service.name,
                    rpc.name,
                    request,
                    response,
                    wrapped_in,
                    wrapped_out,
                    streaming=rpc.streaming,
                )
            )
    return Schema(package, builder.messages, methods)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _check_identifier(name: str, where: str) -> None:
    if _IDENTIFIER.fullmatch(name) is None:
        raise DefinitionError(f"{where}: {name!r} is not a proto identifier (letters, digits, _)")


class _Builder:
    def __init__(self) -> None:
        self.messages: dict[str, list[Field]] = {}
        self._owners: dict[str, Any] = {}

    def top(self, where: str, tp: Any, wrapper: str) -> tuple[str, bool]:
        """The message for a request or answer type, and whether it is wrapped."""
        if is_model(tp):
            return self.model(where, tp), False
        self._claim(where, wrapper, ("wrapper", where, wrapper))
        if tp is None or tp is type(None):
            self.messages[wrapper] = []
        else:
            field = proto_field(f"{where} ({wrapper})", "value", 1, tp, False)
            self.messages[wrapper] = [field]
            self._nested(where, field)
        return wrapper, True

    def model(self, where: str, model: type) -> str:
        name = model.__name__
        if self._owners.get(name) is model:
            return name
        self._claim(where, name, model)
        fields = [
            proto_field(f"{where}: {name}.{field}", field, number, tp, defaulted)
            for number, (field, tp, defaulted) in enumerate(model_fields(model), 1)
        ]
        self.messages[name] = fields
        for field in fields:
            self._nested(where, field)
        return name

    def _nested(self, where: str, field: Field) -> None:
        if field.message is not None:
            self.model(where, field.message)

    def _claim(self, where: str, name: str, owner: Any) -> None:
        if name in self._owners and self._owners[name] != owner:
            raise DefinitionError(f"{where}: two different types are named {name} in the .proto")
        self._owners[name] = owner


def _render(field: Field) -> str:
    if field.map:
        return f"map<string, {field.type}> {field.name} = {field.number}"
    label = "repeated " if field.repeated else "optional " if field.optional else ""
    if field.message is not None and not field.repeated:
        label = ""  # a message field has presence already
    return f"{label}{field.type} {field.name} = {field.number}"
