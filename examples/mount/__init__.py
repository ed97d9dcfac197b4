"""The shop's services inside an existing FastAPI application, sharing its lifespan.

    uvicorn examples.mount:api

FastAPI serves its own routes (``GET /hello``) and, under ``/svc``, everything the shop's App
serves on its own port otherwise: ``POST /svc/rpc/orders/place``, ``GET /svc/inventory/apple``,
``GET /svc/health/ready``, ``GET /svc/openapi.json``. The App starts and stops with FastAPI.
"""

from __future__ import annotations

from fastapi import FastAPI

from examples.shop import app as shop

api = FastAPI(title="storefront", lifespan=shop.lifespan)
api.mount("/svc", shop.asgi())


@api.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


__all__ = ["api"]
