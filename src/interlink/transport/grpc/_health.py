"""The standard gRPC health service (``grpc.health.v1.Health``), answering from readiness.

``Check`` with the service ``""`` (the whole server) or the name of a served interlink service
answers SERVING while the App is ready (started, not draining, every health check passing) and
NOT_SERVING otherwise; any other name is NOT_FOUND. ``Watch`` is not offered (UNIMPLEMENTED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher

__all__ = ["health_handler"]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health_handler(dispatcher: Dispatcher) -> grpc.GenericRpcHandler:
    async def check(
        request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        if request.service and request.service not in dispatcher.services:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no service {request.service!r}")
        ready = await dispatcher.is_ready()
        return health_pb2.HealthCheckResponse(status=_SERVING if ready else _NOT_SERVING)

    return grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {
            "Check": grpc.unary_unary_rpc_method_handler(
                check,
                request_deserializer=health_pb2.HealthCheckRequest.FromString,
                response_serializer=health_pb2.HealthCheckResponse.SerializeToString,
            )
        },
    )
