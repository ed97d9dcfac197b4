"""Running one RPC handler on behalf of a caller: validate, run, encode, map errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from interlink._errors import (
    ApplicationError,
    CodecError,
    DeadlineExceeded,
    RemoteError,
    ValidationFailed,
)
from interlink._wire import Outcome, error_outcome

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Rpc
    from interlink._runtime import Runtime

__all__ = ["classify_failure", "invoke_rpc"]

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
            retryable=retryable,
        )

    retryable = handler.idempotent

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
    except Exception as exc:
        ctx.discard()
        retryable = handler.idempotent or (isinstance(exc, ApplicationError) and exc.retryable)
        return fail(*classify_failure(exc, handler.target, correlation_id))
    return Outcome(200, payload)


def classify_failure(exc: Exception, where: str, correlation_id: str) -> tuple[int, str, str]:
    """Status, type and message for an exception that escaped a handler.

    A downstream client error (4xx) passes through unchanged: the original request caused it.
    Anything unexpected is logged here with its traceback and never sent to the caller.
    """
    if isinstance(exc, (TimeoutError, DeadlineExceeded)):
        return 504, "DeadlineExceeded", f"{where} did not finish before its deadline"
    if isinstance(exc, ApplicationError):
        return exc.status, exc.type, str(exc)
    if isinstance(exc, RemoteError) and 400 <= exc.status < 500:
        return exc.status, exc.remote_type, str(exc.args[0])
    log.error("%s failed (correlation id %s)", where, correlation_id, exc_info=exc)
    return 500, type(exc).__name__, str(exc) or type(exc).__name__
