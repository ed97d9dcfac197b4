"""Edge policies around a plain Starlette app (docs/gateway.md): ``uvicorn examples.gateway_edge:app``."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as Path

from interlink.gateway import ApiKey, ApiKeys, Cache, RateLimit


async def stock(request: Request) -> JSONResponse:
    who = request.state.identity.subject  # the Identity ApiKeys stored
    return JSONResponse({"for": who, "pears": 3}, headers={"cache-control": "public, max-age=30"})


service = Starlette(routes=[Path("/stock", stock)])
keys = ApiKeys({ApiKeys.digest("s3cret"): ApiKey(subject="mobile", scopes={"stock:read"})})
app = keys.wrap(RateLimit(10, 1, key="subject").wrap(Cache().wrap(service)))
