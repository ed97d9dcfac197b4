"""Serving a streaming RPC: validate, run the handler's generator step by step within the
deadline, encode each item; every failure becomes :class:`StreamFailed` with its outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from interlink._errors import CodecError, DeadlineExceeded, ValidationFailed
from interlink._streaming import StreamFailed
from interlink._wire import error_outcome

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Rpc
    from interlink.runtime._inbound import Inbound

__all__ = ["serve_stream"]


async def serve_stream(
    inbound: Inbound, handler: Rpc[Any, Any], envelope: Envelope, body: bytes
) -> AsyncIterator[bytes]:
    """The items of one streaming call, encoded. The deadline covers the whole stream: each
    step of the handler runs within what is left of it. Events the handler publishes are held
    back and sent once it finishes; they are dropped if it fails or is closed early."""
    correlation_id = envelope.correlationid or envelope.id

    def fail(status: int, type_name: str, message: str, errors: Any = None) -> StreamFailed:
        return StreamFailed(
            error_outcome(
                status,
                type_name,
                message,
                service=handler.service,
                method=handler.name,
                correlation_id=correlation_id,
                errors=errors,
            )
        )

    try:
        deadline = inbound.deadline(envelope, handler.timeout)
        request = handler.request.decode(body)
    except ValidationFailed as exc:
        raise fail(422, "ValidationError", str(exc), exc.errors) from None
    except CodecError as exc:
        raise fail(400, "BadRequest", str(exc)) from None
    except DeadlineExceeded as exc:
        raise fail(504, "DeadlineExceeded", str(exc)) from None
    ctx = inbound.context(handler.service, envelope, deadline)
    items: AsyncIterator[Any] = handler(request, ctx)
    encode = handler.response.encode
    finished = False
    try:
        while True:
            try:
                if deadline is None:
                    item = await anext(items)
                else:
                    async with inbound.time_limit(deadline):
                        item = await anext(items)
                payload = encode(item)
            except StopAsyncIteration:
                break
            except Exception as exc:
                outcome = inbound._failed(
                    exc, handler.target, handler, correlation_id, handler.idempotent
                )
                raise StreamFailed(outcome) from None
            yield payload
        await ctx.flush()
        finished = True
    finally:
        if not finished:
            ctx.discard()
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()
