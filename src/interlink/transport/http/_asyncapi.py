"""``GET /asyncapi.json``: the AsyncAPI 3.0 document of the services this server runs."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink._asyncapi import asyncapi_document
from interlink._service import Service

__all__ = ["asyncapi_route"]


def asyncapi_route(title: str, version: str, services: Iterable[Service]) -> Route:
    document = msgspec.json.encode(asyncapi_document(title, version, services))

    async def asyncapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    return Route("/asyncapi.json", asyncapi, methods=["GET"])
