"""One exception tree for everything interlink raises.

::

    InterlinkError
    ├── DefinitionError            a service, handler or App is declared wrongly (raised at import)
    ├── ConfigurationError         a bad URL or option, or a backend whose extra is not installed
    ├── CodecError                 bytes that are not a valid envelope or payload
    │   └── ValidationFailed       the payload parsed but does not fit the model (``.errors``)
    ├── ApplicationError           a handler's answer with a chosen status and type; subclass it
    │                              to declare one (``status = 409``) and list it in ``errors=``
    ├── PublishError               a message could not be handed to the broker (``.maybe_stored``)
    ├── IllegalStateTransition     a circuit breaker was asked for a transition it cannot make
    └── CallError                  a call did not produce a result (``.not_processed``)
        ├── ServiceUnavailable     nobody to send it to: no instance, connection refused
        ├── MethodNotFound         the callee does not have that method (404)
        ├── InvalidRequest         the callee rejected the request body (422, ``.errors``)
        ├── RemoteError            the callee's handler raised (``.remote_type`` keeps its name)
        ├── DeadlineExceeded       the deadline passed before a result came (also a TimeoutError)
        ├── CallNotPermitted       a circuit breaker refused the call (``.retry_after``)
        ├── BulkheadFull           no concurrency slot was free
        └── PermissionDenied       the callee refused the caller's identity (403, ``allow=``)

``CallError.not_processed`` is True only when the failure proves the callee never ran the
request (the connection was refused, a breaker or bulkhead refused locally, the callee answered
before handling). Retries of non-idempotent calls are allowed only then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ApplicationError",
    "BulkheadFull",
    "CallError",
    "CallNotPermitted",
    "CodecError",
    "ConfigurationError",
    "DeadlineExceeded",
    "DefinitionError",
    "FieldError",
    "IllegalStateTransition",
    "InterlinkError",
    "InvalidRequest",
    "MethodNotFound",
    "PermissionDenied",
    "PublishError",
    "RemoteError",
    "ServiceUnavailable",
    "ValidationFailed",
]

FieldError = Mapping[str, Any]
"""One field problem: ``{"loc": [...], "msg": str, "type": str}``."""


class InterlinkError(Exception):
    """The root of every error interlink raises."""

    non_retryable: bool = False
    """When true, no retry policy will try the operation again (set on the instance)."""


class DefinitionError(InterlinkError):
    """A service, handler or App is declared in a way that cannot work."""


class ConfigurationError(InterlinkError):
    """A bad URL or option, or an optional backend that is not installed."""


class CodecError(InterlinkError):
    """Bytes that cannot be decoded into an envelope or a model."""


class ValidationFailed(CodecError):
    """The payload was well-formed but does not fit the model."""

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = list(errors)


class ApplicationError(InterlinkError):
    """Raise from a handler to answer with a chosen HTTP status and error type.

    Declare the errors a handler can answer with as subclasses, and list them on the handler;
    the OpenAPI document then shows each status with its description::

        class OutOfStock(il.ApplicationError):
            '''Not enough stock for the reservation.'''

            status = 409  # the class name is the type; `type = "..."` chooses another

        @inventory.rpc(errors=[OutOfStock])
        async def reserve(req: Reserve) -> Reserved:
            raise OutOfStock(f"only {left} left")

    A declared error reaches an HTTP caller as its status with ``{"error": {"type":
    "OutOfStock", ...}}``, and an interlink caller as a :class:`RemoteError` whose
    ``remote_type`` is ``"OutOfStock"``. ``retryable = True`` (on the class or the instance)
    tells callers that trying again is safe even though the handler is not declared idempotent
    (the failure left nothing half done).

    The base class can also be raised ad hoc:
    ``ApplicationError("no such order", status=404, type="OrderNotFound")``; such an error is
    answered all the same, but the handler's OpenAPI document does not list it (a warning
    says so the first time it happens).
    """

    status: int = 400
    """The HTTP status (400-599) it is answered with."""
    type: str = "ApplicationError"
    """The stable name callers see; a subclass's own name unless it sets one."""
    retryable: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" not in cls.__dict__:
            cls.type = cls.__name__
        if not _is_error_status(cls.status):
            raise DefinitionError(
                f"{cls.__name__}.status must be an HTTP error status (400-599), not {cls.status!r}"
            )

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        type: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        if status is not None:
            if not _is_error_status(status):
                raise ValueError(f"status must be an HTTP error status (400-599), not {status!r}")
            self.status = status
        if type is not None:
            self.type = type
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message if message is not None else self.describe())

    @classmethod
    def describe(cls) -> str:
        """The first line of the class's docstring, else its type: the default message."""
        doc = cls.__doc__ if "__doc__" in cls.__dict__ and cls is not ApplicationError else None
        return doc.strip().splitlines()[0] if doc and doc.strip() else cls.type


def _is_error_status(status: object) -> bool:
    return isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599


class PublishError(InterlinkError):
    """A message could not be handed to the broker.

    ``maybe_stored`` is True when the broker may have stored it all the same (it was sent, but
    no acknowledgement came back): publishing again with the same message id is safe.
    """

    maybe_stored: bool = False
    """True when the message was sent but its acknowledgement never came (a timeout, a lost
    connection): the broker may have stored it, so a retry should reuse its message id. False
    when the broker refused it or it was never sent."""

    def __init__(self, message: str, *, maybe_stored: bool = False) -> None:
        super().__init__(message)
        self.maybe_stored = maybe_stored


class IllegalStateTransition(InterlinkError):
    """A circuit breaker was asked for a state transition it does not allow."""


class CallError(InterlinkError):
    """A call did not produce a result."""

    not_processed: bool = False
    """True when the failure proves the callee did not run the request (safe to retry)."""

    retry_after: float | None = None
    """Seconds the caller should wait before trying again, when the callee or a policy knows."""

    retryable: bool = False
    """The callee declared that repeating the request is safe (an idempotent handler)."""


class ServiceUnavailable(CallError):
    """There was nobody to send the call to (no instances, or the connection was refused)."""

    not_processed = True


class MethodNotFound(CallError):
    """The callee has no such method."""

    not_processed = True


class InvalidRequest(CallError):
    """The callee rejected the request body; ``errors`` lists the fields."""

    not_processed = True

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = list(errors)


class RemoteError(CallError):
    """The callee's handler raised. The remote exception's type name is kept."""

    def __init__(
        self,
        message: str,
        *,
        remote_type: str,
        status: int = 500,
        service: str = "",
        method: str = "",
        correlation_id: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        """The callee said a retry is safe (idempotent handler, or ``ApplicationError(retryable=True)``)."""
        self.remote_type = remote_type
        self.status = status
        self.service = service
        self.method = method
        self.correlation_id = correlation_id

    def __str__(self) -> str:
        where = f"{self.service}.{self.method}" if self.service else "remote"
        return f"{where} raised {self.remote_type}: {self.args[0]}"


class DeadlineExceeded(CallError, TimeoutError):
    """The deadline passed before the operation finished."""


class CallNotPermitted(CallError):
    """A circuit breaker refused the call; ``retry_after`` says when it may admit again."""

    not_processed = True

    def __init__(self, message: str, *, retry_after: float | None = None, name: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.name = name


class BulkheadFull(CallError):
    """No concurrency slot was free within the allowed wait."""

    not_processed = True


class PermissionDenied(CallError):
    """The callee refused the caller's service identity (``allow=``, ``Tls(peers=...)``): 403.
    The handler never ran, and no retry is made: another attempt gets the same answer."""

    not_processed = True
    non_retryable = True
