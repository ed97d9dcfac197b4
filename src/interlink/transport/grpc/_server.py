"""The serving side of the gRPC transport: grpc.aio in front of the Dispatcher.

Every RPC of the served services is one unary method, ``/{package}.{service}/{method}``. Its
message is protobuf (what a client generated from ``interlink proto`` sends) or, when the
metadata says ``interlink-codec: json``, the JSON body itself (what interlink callers send:
nothing to convert). Either way the Dispatcher runs the same handler, with the same envelope
(``ce-*`` metadata, ``traceparent``), deadline (``grpc-timeout``), errors and policies.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]
import msgspec
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from interlink._errors import CodecError, ConfigurationError
from interlink._rfc3339 import format_time
from interlink._wire import Outcome, error_outcome
from interlink.transport.grpc._health import health_handler
from interlink.transport.grpc._messages import Messages, compile_schema
from interlink.transport.grpc._metadata import CODEC_KEY, envelope_of
from interlink.transport.grpc._schema import Method, schema_of
from interlink.transport.grpc._status import ERROR_KEY, STATUS_KEY, code_of
from interlink.transport.http._asgi import correlation_id

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher

__all__ = ["GrpcServer"]

_DECODE = msgspec.json.decode
_ENCODE = msgspec.json.encode


class GrpcServer:
    """Serves a Dispatcher's RPCs over gRPC on ``address`` (``host:port``; port 0 picks a
    free one). ``package``: the proto package (the App's name). ``max_body``: the largest
    request message, in bytes. ``credentials``: serve TLS with them."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        address: str,
        *,
        package: str,
        max_body: int = 1 << 20,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._address = address
        self._max_body = max_body
        self._credentials = credentials
        self._schema = schema_of(package, dispatcher.services.values())
        self.package = package
        self._messages: Messages | None = None
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None

    @property
    def address(self) -> str:
        """``host:port`` it listens on (the bound port when port 0 was asked)."""
        if self._port is None:
            raise RuntimeError("the gRPC server is not running")
        return f"{self._address.rpartition(':')[0]}:{self._port}"

    def proto(self) -> str:
        return self._schema.proto()

    async def start(self) -> None:
        self._messages = compile_schema(self._schema)
        limit = self._max_body + 0x10000
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers([self._handler(), health_handler(self._dispatcher)])
        try:
            if self._credentials is None:
                port = server.add_insecure_port(self._address)
            else:
                port = server.add_secure_port(self._address, self._credentials)
        except RuntimeError as exc:
            raise ConfigurationError(f"cannot listen on {self._address}: {exc}") from None
        await server.start()
        self._server, self._port = server, port

    async def stop(self, drain_timeout: float) -> None:
        """Refuse new calls; let those in flight finish within ``drain_timeout``."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(drain_timeout)

    def _handler(self) -> grpc.GenericRpcHandler:
        prefix = f"/{self.package}."
        methods: dict[str, grpc.RpcMethodHandler] = {}
        for method in self._schema.methods:
            path = f"{prefix}{method.service}/{method.name}"
            methods[path] = grpc.unary_unary_rpc_method_handler(self._behaviour(method))
        return _Generic(methods)

    def _behaviour(self, method: Method) -> Any:
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(method.service, method.name)
        service, name = method.service, method.name
        default_type = f"{service}.{name}"

        async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            metadata = context.invocation_metadata() or ()
            as_json = (CODEC_KEY, "json") in metadata
            if len(request) > self._max_body:
                text = f"body over {self._max_body} bytes"
                return await _fail(context, 413, "PayloadTooLarge", text, service, name)
            if dispatcher.draining:
                text = f"{service} is shutting down"
                return await _fail(context, 503, "ServiceUnavailable", text, service, name)
            try:
                body = request if as_json else self._from_proto(method, request)
                envelope = envelope_of(metadata, body, default_type)
            except (CodecError, DecodeError) as exc:
                status = 400 if isinstance(exc, CodecError) else 422
                kind = "BadRequest" if status == 400 else "ValidationError"
                return await _fail(context, status, kind, str(exc), service, name)
            remaining = context.time_remaining()
            if remaining is not None:
                at = time.time() + remaining
                current = envelope.deadline_at
                if current is None or at < current:
                    envelope.deadline = format_time(at)
            envelope.correlationid = correlation_id(envelope.correlationid)
            assert handler is not None
            outcome = await dispatcher.invoke_rpc(handler, envelope, body)
            if outcome.status != 200:
                return await _abort(context, outcome)
            return outcome.body if as_json else self._to_proto(method, outcome.body)

        return call

    def _from_proto(self, method: Method, request: bytes) -> bytes:
        assert self._messages is not None
        messages = self._messages
        try:
            message = messages.classes[method.request].FromString(request)
        except DecodeError as exc:
            raise DecodeError(f"not a {method.request} protobuf message: {exc}") from None
        data = messages.to_dict(message, method.request)
        if method.wrapped_request:
            return _ENCODE(data.get("value"))
        return _ENCODE(data)

    def _to_proto(self, method: Method, body: bytes) -> bytes:
        assert self._messages is not None
        messages = self._messages
        data = _DECODE(body)
        if method.wrapped_response:
            data = {"value": data}
        message = messages.classes[method.response]()
        return bytes(messages.fill(message, method.response, data).SerializeToString())


class _Generic:
    """A generic RPC handler (grpc duck-types it: one ``service`` method)."""

    def __init__(self, methods: dict[str, grpc.RpcMethodHandler]) -> None:
        self._methods = methods

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return self._methods.get(handler_call_details.method)


async def _fail(
    context: grpc.aio.ServicerContext,
    status: int,
    type_name: str,
    message: str,
    service: str,
    method: str,
) -> bytes:
    outcome = error_outcome(
        status,
        type_name,
        message,
        service=service,
        method=method,
        correlation_id=correlation_id(None),
    )
    return await _abort(context, outcome)


async def _abort(context: grpc.aio.ServicerContext, outcome: Outcome) -> bytes:
    try:
        error = _DECODE(outcome.body)["error"]
        type_name, message = str(error.get("type", "")), str(error.get("message", ""))
    except (msgspec.DecodeError, KeyError, TypeError, AttributeError):
        type_name, message = "", ""
    trailing = ((STATUS_KEY, str(outcome.status)), (ERROR_KEY, outcome.body))
    await context.abort(code_of(outcome.status, type_name), message, trailing)
    raise AssertionError("unreachable: abort raises")
