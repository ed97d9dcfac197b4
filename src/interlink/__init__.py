"""interlink: how Python microservices talk to each other.

Typed RPC over HTTP, events over a broker, discovery, resilience, one definition from tests to
production. Start with :class:`Service` and :class:`App`.
"""

from interlink._app import App
from interlink._context import Context
from interlink._envelope import Envelope
from interlink._errors import (
    ApplicationError,
    BulkheadFull,
    CallError,
    CallNotPermitted,
    CodecError,
    ConfigurationError,
    DeadlineExceeded,
    DefinitionError,
    IllegalStateTransition,
    InterlinkError,
    InvalidRequest,
    MethodNotFound,
    PublishError,
    RemoteError,
    ServiceUnavailable,
    ValidationFailed,
)
from interlink._handlers import Route, Rpc, Subscriber
from interlink._http import HttpTimeouts
from interlink._service import Service
from interlink.messaging import Dedupe
from interlink.messaging.inbox import Database
from interlink.observe import Observe
from interlink.resilience import (
    Backoff,
    Bulkhead,
    CircuitBreaker,
    Fallback,
    Hedge,
    Policy,
    Retry,
    Timeout,
)
from interlink.saga import Choreography, Saga, StepContext, StepRetry
from interlink.transport._tls import Tls

__version__ = "0.1.0"

__all__ = [
    "App",
    "ApplicationError",
    "Backoff",
    "Bulkhead",
    "BulkheadFull",
    "CallError",
    "CallNotPermitted",
    "Choreography",
    "CircuitBreaker",
    "CodecError",
    "ConfigurationError",
    "Context",
    "Database",
    "DeadlineExceeded",
    "Dedupe",
    "DefinitionError",
    "Envelope",
    "Fallback",
    "Hedge",
    "HttpTimeouts",
    "IllegalStateTransition",
    "InterlinkError",
    "InvalidRequest",
    "MethodNotFound",
    "Observe",
    "Policy",
    "PublishError",
    "RemoteError",
    "Retry",
    "Route",
    "Rpc",
    "Saga",
    "Service",
    "ServiceUnavailable",
    "StepContext",
    "StepRetry",
    "Subscriber",
    "Timeout",
    "Tls",
    "ValidationFailed",
    "__version__",
]
