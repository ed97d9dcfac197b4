"""``interlink tail`` and ``interlink dlq list | replay | purge``: straight to the broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from interlink._envelope import Envelope
from interlink._errors import CodecError
from interlink.broker import Broker, broker_from_url
from interlink.cli._load import CliError
from interlink.cli._runner import run_async

__all__ = ["dlq", "tail"]

out = Console()
dlq = typer.Typer(help="List, replay and purge dead letters.", no_args_is_help=True)

BrokerUrl = Annotated[
    str,
    typer.Option(
        "--broker",
        envvar="INTERLINK_BROKER",
        help="nats:// redis:// amqp:// URL, or 'embedded' for the one your app started.",
    ),
]
Directory = Annotated[str, typer.Option("--dir", help="The project's .interlink directory.")]


@contextlib.asynccontextmanager
async def connected(url: str, directory: str) -> AsyncIterator[Broker]:
    if url == "embedded":
        from interlink.embedded import EmbeddedNats

        running = EmbeddedNats(directory).running_url()
        if running is None:
            raise CliError(
                f"no embedded broker is running for {directory} (start the app first, "
                "or pass --broker nats://host:port)"
            )
        url = running
    if url.startswith("memory"):
        raise CliError("a memory:// broker lives inside its own process; use a server's URL")
    broker = broker_from_url(url, directory=directory)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


def tail(
    topic: Annotated[str, typer.Argument()],
    broker: BrokerUrl = "embedded",
    directory: Directory = ".interlink",
    count: Annotated[int, typer.Option(help="Stop after this many (0: until Ctrl-C).")] = 0,
) -> None:
    """Print a topic's messages as they arrive (it does not take them from any group)."""

    async def go() -> None:
        async with connected(broker, directory) as b:
            subscription = await b.subscribe(topic, group=None, max_in_flight=64)
            shown = 0
            try:
                async for delivery in subscription:
                    _show(delivery.topic, delivery.key, delivery.body)
                    await delivery.ack()
                    shown += 1
                    if count and shown >= count:
                        break
            finally:
                await subscription.close()

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        run_async(go)


@dlq.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="The topic (or its .dlq topic).")],
    broker: BrokerUrl = "embedded",
    directory: Directory = ".interlink",
    limit: int = 100,
) -> None:
    """Show the dead letters of a topic, oldest first."""
    from interlink.messaging import list_dead_letters

    async def go() -> None:
        async with connected(broker, directory) as b:
            letters = await list_dead_letters(b, topic, limit=limit)
        table = Table(title=f"dead letters of {topic}", title_justify="left")
        for column in (
            "envelope id",
            "group",
            "runs",
            "deliveries",
            "error",
            "first failure",
            "last failure",
        ):
            table.add_column(column)
        for d in letters:
            table.add_row(
                d.envelope_id or "(undecodable)",
                d.group,
                str(d.attempts),
                str(d.deliveries),
                f"{d.error_type}: {d.error_message}",
                d.first_failure,
                d.last_failure,
            )
        out.print(table)
        out.print(f"{len(letters)} dead letter(s)")

    run_async(go)


@dlq.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument()],
    envelope_id: Annotated[str | None, typer.Option("--id", help="Replay only this one.")] = None,
    broker: BrokerUrl = "embedded",
    directory: Directory = ".interlink",
) -> None:
    """Send dead letters back to their original topic (and remove them from the DLQ)."""
    from interlink.messaging import replay_dead_letters

    async def go() -> None:
        async with connected(broker, directory) as b:
            replayed = await replay_dead_letters(b, topic, envelope_id=envelope_id)
        if envelope_id is not None and replayed == 0:
            raise CliError(f"no dead letter with id {envelope_id!r} in {topic}")
        out.print(f"replayed {replayed} message(s)")

    run_async(go)


@dlq.command("purge")
def dlq_purge(
    topic: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    broker: BrokerUrl = "embedded",
    directory: Directory = ".interlink",
) -> None:
    """Delete every dead letter of a topic."""
    from interlink.messaging import purge_dead_letters

    if not yes and not typer.confirm(f"delete every dead letter of {topic}?"):
        raise typer.Exit(1)

    async def go() -> None:
        async with connected(broker, directory) as b:
            purged = await purge_dead_letters(b, topic)
        out.print(f"purged {purged} message(s)")

    run_async(go)


def _show(topic: str, key: str | None, body: bytes) -> None:
    try:
        envelope = Envelope.from_bytes(body)
    except CodecError:
        out.print(f"[bold]{topic}[/] [red](not an envelope)[/] {body[:200]!r}")
        return
    where = f" key={key}" if key else ""
    out.print(
        f"[bold]{topic}[/]{where} [dim]{envelope.time or ''} id={envelope.id} "
        f"from {envelope.source} correlation={envelope.correlationid}[/]"
    )
    try:
        out.print_json(data=msgspec.json.decode(bytes(envelope.data)))
    except msgspec.DecodeError:
        out.print(bytes(envelope.data)[:500])
