"""gRPC transport: the services' RPCs over grpc.aio, with a ``.proto`` generated from their
models (see docs/transports.md, "gRPC"). Needs the ``grpc`` extra."""

try:
    import grpc as _grpc  # type: ignore[import-untyped]  # noqa: F401
    import grpc_health as _grpc_health  # type: ignore[import-untyped]  # noqa: F401
    import grpc_tools as _grpc_tools  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'the gRPC transport needs the grpc extra: pip install "interlink[grpc]"'
    ) from exc

from interlink.transport.grpc._client import GrpcClient
from interlink.transport.grpc._schema import Schema, package_name, schema_of
from interlink.transport.grpc._server import GrpcServer

__all__ = ["GrpcClient", "GrpcServer", "Schema", "package_name", "schema_of"]
