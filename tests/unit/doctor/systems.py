"""Small Apps for the doctor's rules: for each rule, one that trips it and one that does not.

They are declared, never started: the doctor reads them (and their handlers' source).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import interlink as il
from interlink.resilience import RetryBudget


class Ping(BaseModel):
    n: int = 0


def _calling(svc: il.Service, target: str | None) -> None:
    @svc.rpc(name="go")
    async def go(req: Ping, ctx: il.Context) -> Ping:
        if target is not None:
            return await ctx.call(target, req, returns=Ping)
        return req


def chain(hops: int, **options: Any) -> il.App:
    """s0.go → s1.go → ... → s{hops}.go, each by name."""
    services = [il.Service(f"s{i}") for i in range(hops + 1)]
    for i, svc in enumerate(services):
        _calling(svc, f"s{i + 1}.go" if i < hops else None)
    return il.App(services, **options)


def ring(names: list[str]) -> il.App:
    """Each service calls the next; the last calls the first."""
    services = [il.Service(name) for name in names]
    for i, svc in enumerate(services):
        _calling(svc, f"{names[(i + 1) % len(names)]}.go")
    return il.App(services)


def retrying(attempts: int, *, budget: bool = False) -> il.App:
    """s0 → s1 → s2 where every target's policy retries ``attempts`` times."""

    def policy(service: str, clock: Any) -> il.Policy:
        retry = il.Retry(
            attempts=attempts,
            on=il.CallError,
            budget=RetryBudget(clock=clock) if budget else None,
            clock=clock,
        )
        breaker = il.CircuitBreaker(clock=clock)
        return il.Policy(deadline=5.0, retry=retry, breaker=breaker, clock=clock)

    return chain(2, default_policy=policy)


# -- sync-over-async, topics, dedupe, endpoints, loops -------------------------------------

quotes = il.Service("quotes")


@quotes.rpc
async def ask(req: Ping, ctx: il.Context) -> Ping:
    return await ctx.request("prices.ask", req, returns=Ping)


@quotes.subscribe("prices.ask")
async def answer(req: Ping, ctx: il.Context) -> Ping:
    return req


pricer = il.Service("pricer")


@pricer.subscribe("prices.updated", dedupe=il.Dedupe())
async def refresh(evt: Ping, ctx: il.Context) -> None:
    # A subscriber may wait on a reply: nobody waits synchronously on it.
    await ctx.request("prices.ask", evt, returns=Ping)


@pricer.rpc
async def announce(req: Ping, ctx: il.Context) -> None:
    await ctx.publish("prices.updated", req)


def sync_over_async() -> il.App:
    return il.App([quotes])


def async_only() -> il.App:
    """Requests and events only where nobody waits synchronously; every topic consumed."""
    return il.App([pricer, _answering()])


def _answering() -> il.Service:
    svc = il.Service("answers")

    @svc.subscribe("prices.ask", dedupe=il.Dedupe())
    async def reply(req: Ping) -> Ping:
        return req

    return svc


shouter = il.Service("shouter")


@shouter.rpc
async def shout(req: Ping, ctx: il.Context) -> None:
    await ctx.publish("news.flash", req)


listener = il.Service("listener")


@listener.subscribe("news.flash")
async def heard(evt: Ping) -> None:
    return None


deduped = il.Service("deduped")


@deduped.subscribe("news.flash", dedupe=il.Dedupe())
async def heard_once(evt: Ping) -> None:
    return None


inboxed = il.Service("inboxed")


@inboxed.subscribe("news.flash", inbox=il.Database("sqlite:///unused-doctor-fixture.db"))
async def heard_in_tx(evt: Ping) -> None:
    return None


ghost = il.Service("ghost")


@ghost.subscribe("nobody.publishes", dedupe=il.Dedupe())
async def haunt(evt: Ping) -> None:
    return None


hardwired = il.Service("hardwired")


@hardwired.rpc
async def fetch(req: Ping) -> Ping:
    url = "http://10.0.0.7:8080/prices"
    return Ping(n=len(url))


clean = il.Service("clean")


@clean.rpc
async def tidy(req: Ping, ctx: il.Context) -> Ping:
    """Documented at http://docs.example.com:8080/tidy (a docstring is not an endpoint)."""
    return await ctx.call("s1.go", req, returns=Ping)


looping = il.Service("looping")


@looping.rpc
async def each(req: Ping, ctx: il.Context) -> None:
    for n in range(req.n):
        await ctx.call("s1.go", Ping(n=n), returns=Ping)


# -- for the command line (MODULE:APP) -----------------------------------------------------

cyclic = ring(["ca", "cb"])
deep = chain(3)
