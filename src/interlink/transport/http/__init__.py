"""HTTP transport: the Starlette/uvicorn server and the pooled aiohttp client."""

from interlink.transport.http._application import HttpApp
from interlink.transport.http._client import HttpClient
from interlink.transport.http._server import HttpServer
from interlink.transport.http._settings import HttpSettings, HttpTimeouts

__all__ = ["HttpApp", "HttpClient", "HttpServer", "HttpSettings", "HttpTimeouts"]
