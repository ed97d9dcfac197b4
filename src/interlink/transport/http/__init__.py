"""HTTP transport: the Starlette/uvicorn server and the pooled aiohttp client."""

from interlink.transport.http._client import HttpClient
from interlink.transport.http._server import HttpServer, HttpSettings

__all__ = ["HttpClient", "HttpServer", "HttpSettings"]
