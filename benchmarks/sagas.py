"""3-step sagas per second: interlink's saga engine against DBOS and the same flow written by hand
without durability, on SQLite and on PostgreSQL, sequentially and 50 at a time, in one run.

Every side runs the same flow: three in-process steps (reserve → charge → ship) that do nothing
but return, so the figures are the cost of the orchestration and its durability. DBOS uses its
own system database on the same store (a SQLite file next to ours; the same PostgreSQL server).
Commits per saga: on PostgreSQL the server's ``xact_commit`` delta over the run (every
transaction each side ran, reads included); on SQLite, interlink's transactions, and DBOS's
SQLAlchemy commits (statements DBOS runs in autocommit mode are not counted).

    pip install dbos        # or point PYTHONPATH at a directory holding it
    python benchmarks/sagas.py [--seconds S] [--postgres URL]

Without ``--postgres`` (or ``INTERLINK_POSTGRES_URL``) a throwaway server is started with the
test suite's PostgresServer (fsync off: both sides get the same server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import BaseModel

from interlink.messaging.inbox import Database
from interlink.saga import Saga, SagaEngine, StepContext

Flow = Callable[[], Awaitable[object]]


class Order(BaseModel):
    order_id: str = "o-1"
    qty: int = 1


async def nothing(data: Order, ctx: StepContext) -> None:
    return None


async def measure(flow: Flow, concurrency: int, seconds: float) -> tuple[float, int]:
    """Sagas per second over ``seconds``, with ``concurrency`` flows in flight at once."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await flow()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started), done


class Commits:
    """Counts commits over a run: the server's counter on PostgreSQL, callbacks on SQLite."""

    def __init__(self, pg_url: str | None) -> None:
        self.pg_url, self.count = pg_url, 0

    async def read(self) -> int:
        if self.pg_url is None:
            return self.count
        import asyncpg

        conn = await asyncpg.connect(self.pg_url)
        try:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            value = await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        return int(value)


async def bench_interlink(
    url: str, commits: Commits, seconds: float
) -> list[tuple[str, float, float]]:
    db = Database(
        url,
        table="bench_inbox",
        outbox_table="bench_outbox",
        **({"pool_size": 20} if url.startswith("postgres") else {}),
    )
    saga = Saga("checkout", data=Order, store=db, table="bench_sagas")
    saga.step(name="reserve", compensate=nothing)(nothing)
    saga.step(name="charge", pivot=True)(nothing)
    saga.step(name="ship", retriable=True)(nothing)
    if commits.pg_url is None:
        original = db.transaction

        def counted():  # type: ignore[no-untyped-def]
            commits.count += 1
            return original()

        db.transaction = counted  # type: ignore[method-assign]
    rows = []
    async with SagaEngine([saga], poll=None) as engine:
        await engine.run(saga, Order())  # warm up
        for concurrency in (1, 50):
            await asyncio.sleep(0.5)  # let the statistics collector settle
            before = await commits.read()
            rate, n = await measure(lambda: engine.run(saga, Order()), concurrency, seconds)
            await asyncio.sleep(0.6)
            rows.append((f"interlink c={concurrency}", rate, (await commits.read() - before) / n))
    await db.close()
    return rows


async def bench_dbos(url: str, commits: Commits, seconds: float) -> list[tuple[str, float, float]]:
    import sqlalchemy
    from dbos import DBOS

    DBOS(config={"name": "bench", "system_database_url": url, "log_level": "WARNING"})

    @DBOS.step()
    async def reserve() -> None:
        return None

    @DBOS.step()
    async def charge() -> None:
        return None

    @DBOS.step()
    async def ship() -> None:
        return None

    @DBOS.workflow()
    async def checkout() -> None:
        await reserve()
        await charge()
        await ship()

    def count(*_: object) -> None:
        commits.count += 1

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "commit", count)
    DBOS.launch()
    rows = []
    try:
        await checkout()
        for concurrency in (1, 50):
            await asyncio.sleep(0.5)
            before = await commits.read()
            rate, n = await measure(checkout, concurrency, seconds)
            await asyncio.sleep(0.6)
            rows.append((f"DBOS c={concurrency}", rate, (await commits.read() - before) / n))
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "commit", count)
        DBOS.destroy(destroy_registry=True)
    return rows


async def bench_plain(seconds: float) -> list[tuple[str, float, float]]:
    async def flow() -> None:
        data = Order()
        for _ in range(3):
            await nothing(data, None)  # type: ignore[arg-type]

    rows = []
    for concurrency in (1, 50):
        rate, _ = await measure(flow, concurrency, seconds)
        rows.append((f"by hand, no durability c={concurrency}", rate, 0.0))
    return rows


def report(store: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"\n{store}")
    print(f"{'side':38} {'sagas/s':>10} {'commits/saga':>13}")
    for name, rate, per in rows:
        print(f"{name:38} {rate:10.0f} {per:13.1f}")
    for c in (1, 50):
        ours = next(r for n, r, _ in rows if n == f"interlink c={c}")
        theirs = next(r for n, r, _ in rows if n == f"DBOS c={c}")
        print(f"interlink / DBOS at c={c}: {ours / theirs:.1f}x")


async def main(seconds: float, pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="sagas-bench-") as tmp:
        sqlite_rows = await bench_interlink(
            f"sqlite:///{Path(tmp) / 'interlink.db'}", Commits(None), seconds
        )
        sqlite_rows += await bench_dbos(
            f"sqlite:///{Path(tmp) / 'dbos.db'}", Commits(None), seconds
        )
        sqlite_rows += await bench_plain(seconds)
        report("SQLite (WAL; one file each side)", sqlite_rows)
    server = None
    if pg_url is None:
        from tests.conftest import PostgresServer, postgres_bindir

        bindir = postgres_bindir()
        if bindir is None:
            print("\nPostgreSQL: no server binaries; pass --postgres URL")
            return
        server = PostgresServer(bindir)
        server.start()
        pg_url = server.dsn
    try:
        pg_rows = await bench_interlink(pg_url, Commits(pg_url), seconds)
        pg_rows += await bench_dbos(pg_url, Commits(pg_url), seconds)
        pg_rows += await bench_plain(seconds)
        report("PostgreSQL (one server, one database)", pg_rows)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--postgres", default=os.environ.get("INTERLINK_POSTGRES_URL"))
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.postgres))
