"""Running one RPC handler on behalf of a caller: validate, run, encode, map errors."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from interlink._errors import ApplicationError, CodecError, DeadlineExceeded, ValidationFailed
from interlink._wire import Outcome, error_outcome

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Rpc
    from interlink._runtime import Runtime

__all__ = ["invoke_rpc"]

log = logging.getLogger("interlink")


async def invoke_rpc(
    runtime: Runtime, handler: Rpc[Any, Any], envelope: Envelope, body: bytes
) -> Outcome:
    """Never raises for a handler's failure: every outcome is a status and a body."""
    correlation_id = envelope.correlationid or envelope.id

    def fail(status: int, type_name: str, message: str, errors: Any = None) -> Outcome:
        return error_outcome(
            status,
            type_name,
            message,
            service=handler.service,
            method=handler.name,
            correlation_id=correlation_id,
            errors=errors,
        )

    try:
        deadline = runtime.effective_deadline(envelope, handler.timeout)
        request = handler.request.decode(body)
    except ValidationFailed as exc:
        return fail(422, "ValidationError", str(exc), exc.errors)
    except CodecError as exc:
        return fail(400, "BadRequest", str(exc))
    except DeadlineExceeded as exc:
        return fail(504, "DeadlineExceeded", str(exc))
    ctx = runtime.handler_context(handler.service, envelope, deadline)
    try:
        async with runtime.time_limit(deadline):
            result = await handler(request, ctx)
        payload = handler.response.encode(result)
        await ctx.flush()
    except (TimeoutError, DeadlineExceeded):
        ctx.discard()
        return fail(504, "DeadlineExceeded", f"{handler.target} did not finish before its deadline")
    except ApplicationError as exc:
        ctx.discard()
        return fail(exc.status, exc.type, str(exc))
    except Exception as exc:
        ctx.discard()
        log.exception("%s failed (correlation id %s)", handler.target, correlation_id)
        return fail(500, type(exc).__name__, str(exc) or type(exc).__name__)
    return Outcome(200, payload)
