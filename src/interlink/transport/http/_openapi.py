"""An OpenAPI 3.1 document generated from the handlers' models, listing every status each
operation can answer: its result, the errors it declares, and the framework's own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from interlink._codec import Codec
from interlink._errors import ApplicationError
from interlink._handlers import Route, Rpc
from interlink._service import Service
from interlink.transport.http._asgi import CORRELATION_HEADER
from interlink.transport.http._openapi_errors import (
    ERROR_COMPONENTS,
    ERROR_SCHEMA,
    FRAMEWORK_ERRORS,
    correlation_header,
)

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_CONVERTOR = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*):[a-z]+}")

Schema = Callable[[Codec[Any]], dict[str, Any]]

_DESCRIPTION = (
    'Every error is `{"error": {"type", "message", "service", "method", '
    '"correlation_id"}}` (plus `errors` for field errors, and `retryable` when a retry is '
    f"safe), and every RPC and route answer carries its correlation id in `{CORRELATION_HEADER}`. "
    "Any path may also answer 400 (a malformed request), 408 (a request head or body that "
    "arrives too slowly) and 431 (a request head over 64 KiB); a known path asked with another "
    "method answers 405 with `Allow`."
)

# The framework statuses an RPC can answer (a route's depend on its parameters and body).
_RPC_STATUSES = (400, 408, 413, 415, 422, 431, 500, 503, 504)


def openapi_document(title: str, version: str, services: Iterable[Service]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, **ERROR_COMPONENTS}

    def schema(codec: Codec[Any]) -> dict[str, Any]:
        root, defs = codec.schema(_REF)
        schemas.update(defs)
        return root

    paths: dict[str, dict[str, Any]] = _interlink_paths()
    for service in services:
        for rpc in service.rpcs.values():
            paths[f"/rpc/{service.name}/{rpc.name}"] = {"post": _rpc_operation(rpc, schema)}
        for route in service.routes.values():
            openapi_path = _CONVERTOR.sub(r"{\1}", route.path)
            paths.setdefault(openapi_path, {})[route.method.lower()] = _route_operation(
                route, schema
            )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": _DESCRIPTION},
        "paths": paths,
        "components": {"schemas": schemas, "responses": FRAMEWORK_ERRORS},
    }


def _responses(
    statuses: Iterable[int], declared: Iterable[type[ApplicationError]]
) -> dict[str, Any]:
    """The framework's statuses by reference; a status the handler declares gets its own
    response, whose description names every error type it can carry."""
    by_status: dict[int, list[type[ApplicationError]]] = {}
    for error in declared:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[str, Any] = {}
    for status in sorted({*statuses, *by_status}):
        errors = by_status.get(status)
        if errors is None:
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
            continue
        lines = [f"`{e.type}`: {e.describe()}" for e in errors]
        if status in _FRAMEWORK_STATUSES:
            lines.append(FRAMEWORK_ERRORS[str(status)]["description"])
        responses[str(status)] = {
            "description": "\n\n".join(lines),
            "headers": correlation_header(),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses


_FRAMEWORK_STATUSES = frozenset(int(s) for s in FRAMEWORK_ERRORS)


def _result(description: str, content: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "headers": correlation_header()}
    if content is not None:
        response["content"] = {"application/json": {"schema": content}}
    return response


def _rpc_operation(rpc: Rpc[Any, Any], schema: Schema) -> dict[str, Any]:
    return {
        "operationId": f"{rpc.service}.{rpc.name}",
        "tags": [rpc.service],
        "summary": rpc.doc.splitlines()[0] if rpc.doc else rpc.name,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema(rpc.request)}},
        },
        "responses": {
            "200": _result("Result", schema(rpc.response)),
            **_responses(_RPC_STATUSES, rpc.errors),
        },
    }


def _route_operation(route: Route, schema: Schema) -> dict[str, Any]:
    params = route.params
    model = params.model.model_json_schema()
    fields, required = model.get("properties", {}), set(model.get("required", []))
    parameters = [
        {
            "name": name,
            "in": "path" if name in params.path else "query",
            "required": name in params.path or name in required,
            "schema": fields[name],
        }
        for name in (*params.path, *params.query)
    ]
    operation: dict[str, Any] = {
        "operationId": f"{route.service}.{route.name}",
        "tags": list(route.tags),
        "summary": route.doc.splitlines()[0] if route.doc else route.name,
        "parameters": parameters,
    }
    statuses = {400, 408, 431, 500, 503, 504}
    if params.path:
        statuses.add(404)  # a value with a '/' in it leaves the route
    if parameters or params.body_codec is not None:
        statuses.add(422)
    if params.body_codec is not None:
        statuses |= {413, 415}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema(params.body_codec)}},
        }
    if route.status == 204:
        result = _result("No content", None)
    else:
        result = _result("Result", schema(route.response))
    operation["responses"] = {str(route.status): result, **_responses(statuses, route.errors)}
    return operation


def _interlink_paths() -> dict[str, dict[str, Any]]:
    def get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"tags": ["interlink"], "summary": summary, "responses": responses}}

    health = {"$ref": "#/components/schemas/Health"}
    return {
        "/health/live": get("The process is up", {"200": _plain("Live", health)}),
        "/health/ready": get(
            "Ready to take work: started, not draining, every health check passing",
            {"200": _plain("Ready", health), "503": _plain("Not ready", health)},
        ),
        "/openapi.json": get("This document", {"200": _plain("OpenAPI 3.1", {"type": "object"})}),
    }


def _plain(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
