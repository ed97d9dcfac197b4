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
from interlink._streaming import StreamFailed
from interlink._wire import Outcome, error_outcome
from interlink.transport._tls import identity_from_uris
from interlink.transport.grpc._health import health_handler
from interlink.transport.grpc._messages import Messages, compile_schema
from interlink.transport.grpc._metadata import CODEC_KEY, STREAM_KEY, envelope_of
from interlink.transport.grpc._schema import Method, schema_of
from interlink.transport.grpc._status import ERROR_KEY, STATUS_KEY, code_of
from interlink.transport.http._asgi import correlation_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from interlink._dispatch import Dispatcher
    from interlink._envelope import Envelope

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

    def _handler(self) -> _Generic:
        prefix = f"/{self.package}."
        methods: dict[str, Any] = {}
        for method in self._schema.methods:
            path = f"{prefix}{method.service}/{method.name}"
            if method.streaming:
                behaviour = grpc.unary_stream_rpc_method_handler(self._streaming(method))
            else:
                behaviour = grpc.unary_unary_rpc_method_handler(self._unary(method))
            methods[path] = behaviour
        return _Generic(methods)

    def _unary(self, method: Method) -> Any:
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(method.service, method.name)

        async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            prepared = self._prepare(method, request, context)
            if isinstance(prepared, Outcome):
                return await _abort(context, prepared)
            envelope, body, as_json = prepared
            peer = _peer(context)
            outcome = await dispatcher.invoke_rpc(handler, envelope, body, peer=peer)  # type: ignore[arg-type]
            if outcome.status != 200:
                return await _abort(context, outcome)
            return outcome.body if as_json else self._to_proto(method, outcome.body)

        return call

    def _streaming(self, method: Method) -> Any:
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(method.service, method.name)

        async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            prepared = self._prepare(method, request, context)
            if isinstance(prepared, Outcome):
                await _abort(context, prepared)
                return
            envelope, body, as_json = prepared
            if as_json and (STREAM_KEY, "1") not in context.invocation_metadata():
                # An interlink caller's call(), not stream(): refused as over HTTP.
                refusal = await dispatcher.invoke_rpc(handler, envelope, body, peer=_peer(context))  # type: ignore[arg-type]
                await _abort(context, refusal)
                return
            await context.send_initial_metadata(((STREAM_KEY, "1"),))
            items = dispatcher.invoke_stream(handler, envelope, body, peer=_peer(context))  # type: ignore[arg-type]
            try:
                async for item in items:
                    yield item if as_json else self._to_proto(method, item)
            except StreamFailed as exc:
                await _abort(context, exc.outcome)
            finally:
                await items.aclose()  # type: ignore[attr-defined]

        return stream

    def _prepare(
        self, method: Method, request: bytes, context: grpc.aio.ServicerContext
    ) -> tuple[Envelope, bytes, bool] | Outcome:
        """The envelope, the JSON body and whether the message was JSON; or the refusal."""
        service, name = method.service, method.name
        metadata = context.invocation_metadata() or ()
        as_json = (CODEC_KEY, "json") in metadata
        if len(request) > self._max_body:
            return _refusal(413, "PayloadTooLarge", f"body over {self._max_body} bytes", method)
        if self._dispatcher.draining:
            return _refusal(503, "ServiceUnavailable", f"{service} is shutting down", method)
        try:
            body = request if as_json else self._from_proto(method, request)
            envelope = envelope_of(metadata, body, f"{service}.{name}")
        except CodecError as exc:
            return _refusal(400, "BadRequest", str(exc), method)
        except DecodeError as exc:
            return _refusal(422, "ValidationError", str(exc), method)
        remaining = context.time_remaining()
        if remaining is not None:
            at = time.time() + remaining
            current = envelope.deadline_at
            if current is None or at < current:
                envelope.deadline = format_time(at)
        envelope.correlationid = correlation_id(envelope.correlationid)
        return envelope, body, as_json

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

    def __init__(self, methods: dict[str, Any]) -> None:
        self._methods = methods

    def service(self, handler_call_details: Any) -> Any:
        return self._methods.get(handler_call_details.method)


def _refusal(status: int, type_name: str, message: str, method: Method) -> Outcome:
    return error_outcome(
        status,
        type_name,
        message,
        service=method.service,
        method=method.name,
        correlation_id=correlation_id(None),
    )


def _peer(context: grpc.aio.ServicerContext) -> str | None:
    """The caller's service identity from its verified certificate (mutual TLS), else None."""
    auth = context.auth_context()
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    return identity_from_uris(auth.get("x509_subject_alternative_name", ()))


async def _abort(context: grpc.aio.ServicerContext, outcome: Outcome) -> bytes:
    try:
        error = _DECODE(outcome.body)["error"]
        type_name, message = str(error.get("type", "")), str(error.get("message", ""))
    except (msgspec.DecodeError, KeyError, TypeError, AttributeError):
        type_name, message = "", ""
    trailing = ((STATUS_KEY, str(outcome.status)), (ERROR_KEY, outcome.body))
    await context.abort(code_of(outcome.status, type_name), message, trailing)
    raise AssertionError("unreachable: abort raises")
