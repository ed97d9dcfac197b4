"""The app ``interlink up`` runs in tests/e2e/test_up.py: replicas say who they are."""

from __future__ import annotations

import asyncio
import os

import interlink as il

REPLICA = int(os.environ.get("INTERLINK_REPLICA", "0"))
SLOW = os.environ.get("SLOW_FIRST_REPLICA") == "1" and REPLICA == 0

inventory = il.Service("inventory")


@inventory.rpc(idempotent=True)
async def whoami(req: dict[str, int]) -> dict[str, int]:
    await asyncio.sleep(0.03 if SLOW else 0.002)
    return {"pid": os.getpid(), "replica": REPLICA}


app = il.App([inventory])
