"""The app ``interlink up --broker URL`` runs in tests/e2e/test_up_broker.py."""

from __future__ import annotations

import os

import interlink as il

echo = il.Service("echo")


@echo.subscribe("up.echo")
async def whoami(req: dict[str, str]) -> dict[str, int]:
    return {"pid": os.getpid()}


app = il.App([echo])
