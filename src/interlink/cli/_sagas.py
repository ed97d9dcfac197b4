"""``interlink sagas list | show | retry | abort``: straight to the saga store's database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from interlink.cli._runner import run_async
from interlink.messaging.inbox import Database
from interlink.saga import _operator as operator
from interlink.saga._errors import SagaNotFound
from interlink.saga._state import Attempt, decode_state
from interlink.saga._store import SagaRow, SagaStore, store_for

__all__ = ["sagas"]

out = Console()
sagas = typer.Typer(help="List, inspect, retry and abort sagas.", no_args_is_help=True)

DbUrl = Annotated[
    str,
    typer.Option(
        "--db", envvar="INTERLINK_SAGA_DB", help="sqlite:///path.db or postgresql://… (the store)."
    ),
]
TableName = Annotated[str, typer.Option("--table", help="The saga table.")]


@contextlib.asynccontextmanager
async def opened(url: str, table: str) -> AsyncIterator[SagaStore]:
    async with Database(url) as db:
        yield store_for(db, table=table)


@sagas.command("list")
def list_(
    db: DbUrl,
    status: Annotated[str | None, typer.Option(help="Only this status (e.g. FAILED).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    table: TableName = "interlink_sagas",
) -> None:
    """Sagas, newest first: id, name, key, status, current step, error."""

    async def show() -> None:
        async with opened(db, table) as store:
            rows = await store.list(status=status.upper() if status else None, limit=limit)
        grid = Table("id", "saga", "key", "status", "step", "updated", "error")
        for row in rows:
            state = decode_state(row.state, saga=row.name)
            grid.add_row(
                row.id,
                row.name,
                row.key or "",
                row.status,
                state.cursor or "",
                _when(row.updated_at),
                state.error or "",
            )
        out.print(grid)

    run_async(show)


@sagas.command()
def show(
    saga_id: Annotated[str, typer.Argument()], db: DbUrl, table: TableName = "interlink_sagas"
) -> None:
    """One saga: its status, data, and every step's timeline with attempts and errors."""

    async def detail() -> None:
        async with opened(db, table) as store:
            row = await _get(store, saga_id)
        state = decode_state(row.state, saga=row.name)
        out.print(
            f"[bold]{row.name}[/] {row.id}  key={row.key}  [bold]{row.status}[/]  "
            f"version={row.version}  owner={row.owner}"
        )
        if state.error:
            out.print(f"[red]error:[/] {state.error}", highlight=False)
        out.print(f"data: {bytes(state.data).decode()}", highlight=False)
        grid = Table(
            "step", "status", "compensation", "attempt", "kind", "started", "ended", "error"
        )
        for step in state.steps:
            attempts: list[Attempt | None] = [*step.history] or [None]
            for attempt in attempts:
                grid.add_row(
                    step.name,
                    step.status,
                    step.compensation,
                    "" if attempt is None else str(attempt.number),
                    "" if attempt is None else attempt.kind,
                    "" if attempt is None else _when(attempt.started_at),
                    "" if attempt is None or attempt.ended_at is None else _when(attempt.ended_at),
                    "" if attempt is None else attempt.error or "",
                )
        out.print(grid)

    run_async(detail)


@sagas.command()
def retry(
    saga_id: Annotated[str, typer.Argument()], db: DbUrl, table: TableName = "interlink_sagas"
) -> None:
    """Run a saga again now: a FAILED one from where it failed; the App's engine picks it up."""

    async def again() -> None:
        async with opened(db, table) as store:
            row = await operator.retry(store, saga_id, now=time.time())
        out.print(f"{row.id}: {row.status}, due now")

    run_async(again)


@sagas.command()
def abort(
    saga_id: Annotated[str, typer.Argument()],
    db: DbUrl,
    reason: Annotated[str, typer.Option(help="Recorded as the saga's error.")] = "by an operator",
    table: TableName = "interlink_sagas",
) -> None:
    """Compensate a RUNNING saga now (refused past its pivot); the App's engine does it."""

    async def stop() -> None:
        async with opened(db, table) as store:
            row = await operator.abort(store, saga_id, now=time.time(), reason=reason)
        out.print(f"{row.id}: {row.status}, due now")

    run_async(stop)


async def _get(store: SagaStore, saga_id: str) -> SagaRow:
    row = await store.get(saga_id)
    if row is None:
        raise SagaNotFound(f"no saga {saga_id!r}")
    return row


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
