"""A process that serves one service and registers itself, for the crash (SIGKILL) test."""

from __future__ import annotations

import asyncio
import sys

import interlink as il


async def main(registry: str, directory: str, service: str) -> None:
    svc = il.Service(service)

    @svc.rpc
    async def ping(req: dict[str, int]) -> int:
        return 1

    app = il.App([svc], registry=registry, port=0, directory=directory, registration_ttl=2.0)
    async with app:
        await app.runtime.registration.registered.wait()
        print("registered", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
