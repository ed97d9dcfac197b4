"""``graphql_app``: a GraphQL schema (strawberry) over service RPCs, each field one call
through interlink's call path, so the caller's policies (timeout, retry, breaker) apply."""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from interlink._errors import ConfigurationError, DefinitionError, InterlinkError

if TYPE_CHECKING:
    import strawberry
    from starlette.types import ASGIApp

    from interlink._handlers import Rpc
    from interlink._service import Service

__all__ = ["Caller", "graphql_app", "graphql_schema"]


class Caller(Protocol):
    """What the resolvers call through: a running ``App`` or a ``Context``."""

    async def call(self, target: Any, message: Any, *, timeout: float | None = None) -> Any: ...


def graphql_app(
    caller: Caller,
    services: Sequence[Service],
    *,
    queries: Collection[str] = (),
    max_depth: int = 10,
    max_tokens: int = 2000,
    ide: bool = False,
) -> ASGIApp:
    """An ASGI app serving the schema of :func:`graphql_schema` over HTTP (``POST`` a JSON
    ``{"query": ..., "variables": ...}``; ``GET ?query=`` for queries only)."""
    schema = graphql_schema(
        caller, services, queries=queries, max_depth=max_depth, max_tokens=max_tokens
    )
    from strawberry.asgi import GraphQL

    return GraphQL(schema, graphql_ide="graphiql" if ide else None)


def graphql_schema(
    caller: Caller,
    services: Sequence[Service],
    *,
    queries: Collection[str] = (),
    max_depth: int = 10,
    max_tokens: int = 2000,
) -> strawberry.Schema:
    """One field per RPC of ``services``, named ``{service}_{rpc}``: a query for idempotent
    RPCs and those named in ``queries`` (``"orders.get"``), a mutation for the rest."""
    try:
        import strawberry
        from strawberry.extensions import (
            AddValidationRules,
            MaxTokensLimiter,
            ParserCache,
            ValidationCache,
        )
        from strawberry.extensions.query_depth_limiter import create_validator
        from strawberry.schema.config import StrawberryConfig
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ConfigurationError(
            'GraphQL needs strawberry: pip install "interlink[gateway]"'
        ) from exc
    from interlink.gateway._graphql_types import TypeBuilder

    builder = TypeBuilder()
    depth_rule = create_validator(max_depth, None)
    rpcs = {rpc.target: rpc for service in services for rpc in service.rpcs.values()}
    unknown = sorted(set(queries) - set(rpcs))
    if unknown:
        raise DefinitionError(f"queries names unknown RPCs {unknown}; known: {sorted(rpcs)}")
    read: dict[str, Any] = {"services": _services_field(sorted({s.name for s in services}))}
    write: dict[str, Any] = {}
    for target, rpc in rpcs.items():
        name = re.sub(r"[^_0-9A-Za-z]", "_", f"{rpc.service}_{rpc.name}")
        side = read if rpc.idempotent or target in queries else write
        side[name] = strawberry.field(resolver=_resolver(caller, rpc, builder), name=name)
    return strawberry.Schema(
        query=strawberry.type(type("Query", (), read)),
        mutation=strawberry.type(type("Mutation", (), write)) if write else None,
        config=StrawberryConfig(auto_camel_case=False),
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            # One rule class for the schema's life, so that validated documents stay cached.
            lambda: AddValidationRules([depth_rule]),
            # strawberry keeps these two LRU caches (128 documents each) across requests
            lambda: ParserCache(maxsize=128),
            lambda: ValidationCache(maxsize=128),
        ],
    )


def _services_field(names: list[str]) -> Any:
    import strawberry

    def services() -> list[str]:
        return names

    return strawberry.field(resolver=services, description="The services this schema covers.")


def _resolver(caller: Caller, rpc: Rpc[Any, Any], builder: Any) -> Any:
    from interlink.gateway._graphql_args import arguments, request_json
    from interlink.gateway._graphql_errors import graphql_error
    from interlink.gateway._graphql_types import json_schema

    params, flattened = arguments(rpc, builder)
    schema, defs = json_schema(rpc.response)
    # Nullable: a failed call nulls its own field only, and the rest of the answer stands.
    returns = builder.field_annotation(schema, defs, input=False, required=False)

    async def resolve(**kwargs: Any) -> Any:
        try:
            request = rpc.request.decode(request_json(kwargs, flattened))
            result = await caller.call(rpc, request)
        except InterlinkError as exc:
            raise graphql_error(exc) from exc
        return msgspec.json.decode(rpc.response.encode(result))

    resolve.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    resolve.__doc__ = rpc.doc or None
    return resolve
