"""The error side of the OpenAPI document: the error body's schema and the framework's own
error responses, one per status, with what causes each."""

from __future__ import annotations

from typing import Any

from interlink.transport.http._asgi import CORRELATION_HEADER

__all__ = ["ERROR_COMPONENTS", "ERROR_SCHEMA", "FRAMEWORK_ERRORS", "correlation_header"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "A stable name, e.g. `OutOfStock`."},
                "message": {"type": "string"},
                "service": {"type": "string"},
                "method": {"type": "string"},
                "correlation_id": {"type": "string", "minLength": 1},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
                "retryable": {
                    "type": "boolean",
                    "description": "Present (true) when sending the same request again is safe.",
                },
            },
            "required": ["type", "message", "service", "method", "correlation_id"],
            "additionalProperties": False,
        }
    },
    "required": ["error"],
    "additionalProperties": False,
}

ERROR_COMPONENTS: dict[str, Any] = {
    "FieldError": {
        "type": "object",
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"enum": ["live", "ready", "starting", "unhealthy", "draining"]},
            "services": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["status"],
    },
}

_CAUSES = {
    400: "`BadRequest`: a malformed request: bad HTTP, a `ce-deadline` that is not an RFC 3339 "
    "time, a CloudEvent that cannot be read.",
    404: "`NotFound`: nothing is served at this path (`MethodNotFound` for an unknown RPC).",
    405: "`MethodNotAllowed`: the path exists, the method does not; `Allow` lists those that do.",
    408: "`RequestTimeout`: the request head or body did not arrive within the server's "
    "timeouts; the connection is closed.",
    413: "`PayloadTooLarge`: the body is over the App's `max_body_size`.",
    415: "`UnsupportedMediaType`: the body is not JSON (`application/json`, or "
    "`application/cloudevents+json` for a structured CloudEvent).",
    422: "`ValidationError`: the body or a parameter does not fit its schema; `errors` lists "
    "every field.",
    431: "`HeadersTooLarge`: the request head is over 64 KiB; the connection is closed.",
    500: "The handler failed unexpectedly; `type` is the exception's class, `message` names the "
    "correlation id under which the service logged the details.",
    503: "`ServiceUnavailable`: the service is shutting down (or not started); the request was "
    "not handled, so sending it elsewhere is safe.",
    504: "`DeadlineExceeded`: the request's deadline (`ce-deadline`, or the handler's timeout) "
    "passed before it finished, or before it started.",
}


def correlation_header() -> dict[str, Any]:
    return {
        CORRELATION_HEADER: {
            "description": "The request's correlation id: the caller's (`ce-correlationid`, "
            f"`{CORRELATION_HEADER}`) or a new one.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
    }


def _response(status: int) -> dict[str, Any]:
    headers = correlation_header()
    if status == 405:
        headers["Allow"] = {"required": True, "schema": {"type": "string"}}
    return {
        "description": _CAUSES[status],
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


FRAMEWORK_ERRORS: dict[str, Any] = {str(status): _response(status) for status in _CAUSES}
"""``components.responses``, keyed by status."""
