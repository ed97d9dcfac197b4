"""An OpenAPI 3.1 document generated from the handlers' models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from interlink._codec import Codec
from interlink._handlers import Route, Rpc
from interlink._service import Service

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "service": {"type": "string"},
                "method": {"type": "string"},
                "correlation_id": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["type", "message"],
        }
    },
    "required": ["error"],
}


def openapi_document(title: str, version: str, services: Iterable[Service]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def schema(codec: Codec[Any]) -> dict[str, Any]:
        root, defs = codec.schema(_REF)
        components.update(defs)
        return root

    paths: dict[str, dict[str, Any]] = {}
    for service in services:
        for rpc in service.rpcs.values():
            paths[f"/rpc/{service.name}/{rpc.name}"] = {"post": _rpc_operation(rpc, schema)}
        for route in service.routes.values():
            openapi_path = route.path.replace(":int}", "}").replace(":str}", "}")
            paths.setdefault(openapi_path, {})[route.method.lower()] = _route_operation(
                route, schema
            )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    content = {"application/json": {"schema": _ERROR}}
    return {str(s): {"description": _REASONS[s], "content": content} for s in statuses}


_REASONS = {
    404: "Not found",
    422: "Invalid request",
    500: "Handler error",
    503: "Shutting down",
    504: "Deadline exceeded",
}


def _rpc_operation(rpc: Rpc[Any, Any], schema: Any) -> dict[str, Any]:
    return {
        "operationId": f"{rpc.service}.{rpc.name}",
        "tags": [rpc.service],
        "summary": rpc.doc.splitlines()[0] if rpc.doc else rpc.name,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema(rpc.request)}},
        },
        "responses": {
            "200": {
                "description": "Result",
                "content": {"application/json": {"schema": schema(rpc.response)}},
            },
            **_errors(404, 422, 500, 503, 504),
        },
    }


def _route_operation(route: Route, schema: Any) -> dict[str, Any]:
    params = route.params
    fields = params.model.model_json_schema()["properties"]
    required = set(params.model.model_json_schema().get("required", []))
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
        "responses": _errors(422, 500, 504),
    }
    if params.body_codec is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema(params.body_codec)}},
        }
    if route.status == 204:
        operation["responses"]["204"] = {"description": "No content"}
    else:
        operation["responses"][str(route.status)] = {
            "description": "Result",
            "content": {"application/json": {"schema": schema(route.response)}},
        }
    return operation
