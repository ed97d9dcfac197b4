"""Message classes built at start-up from the schema, and the bridge to the JSON bodies the
Dispatcher speaks.

The ``.proto`` text is compiled once by protoc (grpcio-tools, in-process) into a descriptor
set, loaded into a pool of this server's own (never protobuf's global default pool), and the
classes come from ``message_factory``. Per call, a message is turned into the plain dict the
request model validates and the answer's dict back into a message by walking the fields
directly: dates stay strings, int64 stays an int (protobuf's JSON mapping would quote it).
"""

from __future__ import annotations

import base64
import os
import tempfile
from typing import Any

from interlink._errors import ConfigurationError
from interlink.transport.grpc._schema import Schema
from interlink.transport.grpc._types import Field

__all__ = ["Messages", "compile_schema"]


class Messages:
    """The message classes of one schema, by name, and the dict conversions."""

    def __init__(self, schema: Schema, classes: dict[str, Any]) -> None:
        self.schema = schema
        self.classes = classes

    def to_dict(self, message: Any, name: str) -> dict[str, Any]:
        fields = self.schema.messages[name]
        out: dict[str, Any] = {}
        for field in fields:
            if field.optional and not message.HasField(field.name):
                continue
            value = getattr(message, field.name)
            if field.repeated:
                out[field.name] = [self._value_out(field, v) for v in value]
            elif field.map:
                out[field.name] = {k: self._value_out(field, v) for k, v in value.items()}
            elif field.message is not None and not message.HasField(field.name):
                out[field.name] = None
            else:
                out[field.name] = self._value_out(field, value)
        return out

    def _value_out(self, field: Field, value: Any) -> Any:
        if field.message is not None:
            return self.to_dict(value, field.type)
        if field.type == "bytes":
            return base64.b64encode(value).decode()
        return value

    def fill(self, message: Any, name: str, data: dict[str, Any]) -> Any:
        """Set ``message``'s fields from the answer's dict; returns it."""
        for field in self.schema.messages[name]:
            value = data.get(field.name)
            if value is None:
                continue
            if field.repeated:
                target = getattr(message, field.name)
                for item in value:
                    if field.message is not None:
                        self.fill(target.add(), field.type, item)
                    else:
                        target.append(_scalar_in(field, item))
            elif field.map:
                target = getattr(message, field.name)
                for key, item in value.items():
                    if field.message is not None:
                        self.fill(target[key], field.type, item)
                    else:
                        target[key] = _scalar_in(field, item)
            elif field.message is not None:
                self.fill(getattr(message, field.name), field.type, value)
                getattr(message, field.name).SetInParent()
            else:
                setattr(message, field.name, _scalar_in(field, value))
        return message


def _scalar_in(field: Field, value: Any) -> Any:
    if field.type == "bytes" and isinstance(value, str):
        return base64.b64decode(value)
    if field.type == "double" and isinstance(value, int):
        return float(value)
    return value


def compile_schema(schema: Schema) -> Messages:
    """Compile ``schema`` with protoc and build its message classes."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # type: ignore[import-untyped]
    from grpc_tools import protoc  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix="interlink-proto-") as directory:
        source = os.path.join(directory, f"{schema.package}.proto")
        output = os.path.join(directory, "descriptors.bin")
        with open(source, "w") as file:
            file.write(schema.proto())
        code = protoc.main(["protoc", f"-I{directory}", f"--descriptor_set_out={output}", source])
        if code != 0:
            raise ConfigurationError(f"protoc could not compile the generated .proto ({code})")
        with open(output, "rb") as file:
            files = descriptor_pb2.FileDescriptorSet.FromString(file.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    prefix = f"{schema.package}." if schema.package else ""
    classes = {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(prefix + name))
        for name in schema.messages
    }
    return Messages(schema, classes)
