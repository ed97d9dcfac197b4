"""The dashboard's JSON API and its static page, as one Starlette application."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from interlink.dashboard._collector import Collector
from interlink.dashboard._metrics import broker_rows, worst
from interlink.dashboard._operations import Operations
from interlink.dashboard._topology import red, topology
from interlink.dashboard._traces import recent_traces, waterfall

__all__ = ["STATIC", "build_api"]

STATIC = Path(__file__).with_name("static")


class _Replay(msgspec.Struct):
    topic: str
    envelope_id: str | None = None


def build_api(
    collector: Collector, operations: Operations, *, window: float, topics: tuple[str, ...] = ()
) -> Starlette:
    """``window``: the seconds of spans that rates, error shares and percentiles cover."""

    def graph(now: float) -> dict[str, Any]:
        return topology(collector.spans.since(now - window), now=now, window=window)

    def breakers() -> dict[str, Any]:
        by_target: dict[str, list[str]] = {}
        for instance in collector.instances.values():
            for target, state in instance.breakers.items():
                by_target.setdefault(target, []).append(state)
        return {
            "current": [
                {"target": t, "state": worst(states), "instances": len(states)}
                for t, states in sorted(by_target.items())
            ],
            "timeline": list(collector.breakers.changes),
        }

    def broker() -> list[dict[str, Any]]:
        return broker_rows([i.samples for i in collector.instances.values()])

    async def overview(request: Request) -> Response:
        now = time.time()
        spans = collector.spans.since(now - window)
        return JSONResponse(
            {
                "now": now,
                "window": window,
                "rounds": collector.rounds,
                "instances": [i.json() for i in collector.instances.values()],
                "topology": topology(spans, now=now, window=window),
                "red": red(spans, now=now, window=window),
                "breakers": breakers(),
                "broker": broker(),
            }
        )

    async def dead_letters(request: Request) -> Response:
        destinations = {row["destination"] for row in broker()}
        nodes = graph(time.time())["nodes"]
        destinations.update(n["id"] for n in nodes if n["kind"] == "destination")
        letters = await operations.dead_letters([*destinations, *topics])
        return JSONResponse({"broker": operations.broker is not None, "dead_letters": letters})

    async def replay(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            # A plain form post from another site cannot set this: no cross-site replays.
            return _error(415, "send application/json")
        try:
            body = msgspec.json.decode(await request.body(), type=_Replay)
        except msgspec.DecodeError as exc:
            return _error(400, str(exc))
        try:
            replayed = await operations.replay(body.topic, body.envelope_id)
        except LookupError as exc:
            return _error(409, str(exc))
        return JSONResponse({"replayed": replayed})

    async def sagas(request: Request) -> Response:
        return JSONResponse({"sagas": await operations.sagas()})

    async def saga(request: Request) -> Response:
        found = await operations.saga(request.path_params["saga_id"])
        return JSONResponse(found) if found is not None else _error(404, "no such saga")

    async def traces(request: Request) -> Response:
        return JSONResponse({"traces": recent_traces(collector.spans.all())})

    async def trace(request: Request) -> Response:
        spans = waterfall(collector.spans.all(), request.path_params["trace_id"])
        return JSONResponse({"spans": spans}) if spans else _error(404, "no such trace")

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/overview", overview),
            Route("/api/dead-letters", dead_letters),
            Route("/api/dead-letters/replay", replay, methods=["POST"]),
            Route("/api/sagas", sagas),
            Route("/api/sagas/{saga_id}", saga),
            Route("/api/traces", traces),
            Route("/api/traces/{trace_id}", trace),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]
    )


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
