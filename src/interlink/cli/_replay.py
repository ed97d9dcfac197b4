"""``interlink replay TOPIC --from TIME [--to TIME] --to-group G``: history for one group."""

from __future__ import annotations

from typing import Annotated

import typer

from interlink._errors import CodecError
from interlink._rfc3339 import format_time, parse_time
from interlink.cli._messaging import BrokerUrl, Directory, connected, out
from interlink.cli._runner import run_async

__all__ = ["replay"]


def replay(
    topic: Annotated[str, typer.Argument()],
    since: Annotated[
        str, typer.Option("--from", help="RFC 3339 time (2026-12-01T21:00:00Z), or 'earliest'.")
    ],
    group: Annotated[str, typer.Option("--to-group", help="The one group that gets them.")],
    until: Annotated[
        str | None, typer.Option("--to", help="RFC 3339 time: only messages stored before it.")
    ] = None,
    as_new: Annotated[
        bool,
        typer.Option(
            "--as-new",
            help="New envelope ids (derived from the old ones): Dedupe and inboxes let them in.",
        ),
    ] = False,
    limit: Annotated[int, typer.Option(help="Read at most this many messages.")] = 10_000,
    broker: BrokerUrl = "embedded",
    directory: Directory = ".interlink",
) -> None:
    """Publish a topic's retained messages from a time window again, for one group only
    (the topic's other groups skip them)."""
    from interlink.messaging import replay_history

    start, end = _time(since, "--from", earliest=True), _time(until, "--to")

    async def go() -> None:
        async with connected(broker, directory) as b:
            done = await replay_history(
                b, topic, group=group, since=start, until=end, as_new=as_new, limit=limit
            )
        out.print(f"replayed {done.published} message(s) of {topic} to group {group}")
        if done.skipped:
            out.print(f"skipped {done.skipped} copies made by earlier replays")
        if done.limited and done.last is not None:
            out.print(
                f"stopped at --limit {limit}: run again with --from {format_time(done.last)} "
                "for the rest (within the duplicate window the broker drops what was sent)"
            )

    run_async(go)


def _time(text: str | None, option: str, *, earliest: bool = False) -> float | None:
    if text is None or (earliest and text == "earliest"):
        return None
    try:
        return parse_time(text)
    except CodecError:
        raise typer.BadParameter(
            f"{text!r} is not an RFC 3339 time with a zone, such as 2026-12-01T21:00:00Z",
            param_hint=option,
        ) from None
