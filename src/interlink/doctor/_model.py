"""The declared system, as the doctor sees it: handlers, what their source calls and
publishes, the consumers, and what guards the calls to each target service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Consumer", "Edge", "Guard", "Handler", "Site", "System"]

SiteKind = Literal["call", "publish", "request", "send", "saga", "wait", "endpoint"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Site:
    """One statement found in a handler's source.

    ``target`` is ``"service.method"`` for a call, the topic for publish/request/send, the saga's
    name for ``ctx.sagas.start``, the literal for an endpoint; None when the source computes it.
    """

    kind: SiteKind
    target: str | None
    line: str
    """``file:line`` of the statement."""
    in_loop: bool = False
    timeout: bool = False
    """A call site that passes ``timeout=``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Handler:
    service: str
    name: str
    kind: Literal["rpc", "route", "subscriber", "step"]
    sites: tuple[Site, ...]
    step_attempts: int = 1
    """A saga step: how often the engine may run it (its StepRetry's max_attempts)."""
    saga: str | None = None

    @property
    def where(self) -> str:
        return f"{self.service}.{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Consumer:
    service: str
    name: str
    topic: str
    group: str
    dedupe: bool
    inbox: bool
    durable: bool
    dead_letter_topic: str

    @property
    def where(self) -> str:
        return f"{self.service}.{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Guard:
    """What protects calls to one target service: its policy's deadline or per-attempt
    timeout, whether it has a circuit breaker, and how many attempts its retry makes."""

    timeout: float | None
    breaker: bool
    attempts: int
    """Attempts per call, counting a retry held to a RetryBudget as one attempt (the budget
    caps the extra load a retry adds)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Edge:
    """A synchronous call from one handler (``service.method``) to an RPC, as declared."""

    source: str
    target: str
    attempts: int
    """Calls of ``target`` one run of ``source`` may make: retry attempts x step attempts."""
    line: str
    timeout: bool
    """The call site passes its own ``timeout=``."""


@dataclass(kw_only=True)
class System:
    services: set[str] = field(default_factory=set)
    rpcs: set[str] = field(default_factory=set)
    handlers: list[Handler] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)
    declared_topics: dict[str, set[str]] = field(default_factory=dict)
    """Topic → services that declare it in ``Service(publishes=...)``."""
    guards: dict[str, Guard] = field(default_factory=dict)
    """Target service → its guard (for every service the App declares or a call names)."""
    edges: list[Edge] = field(default_factory=list)
    inlined: set[str] = field(default_factory=set)
    """Saga steps whose calls are also edges of a handler that starts the saga and waits for
    it: not chains of their own."""

    def roots(self) -> list[str]:
        """The handlers that make calls and that no declared call reaches."""
        called = {e.target for e in self.edges} | self.inlined
        return sorted({e.source for e in self.edges} - called)
