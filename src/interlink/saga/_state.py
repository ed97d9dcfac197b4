"""What a saga's row holds: its status, cursor, data and every step's history.

Serialized as versioned JSON (``{"v": 1, ...}``, msgspec; the data through its model's codec),
never pickle, and refused when it is larger than the store's limit.
"""

from __future__ import annotations

import enum

import msgspec

from interlink.saga._errors import SagaDataTooLarge, SagaError

__all__ = [
    "Command",
    "SagaState",
    "SagaStatus",
    "StepState",
    "StepStatus",
    "decode_state",
    "encode_state",
]

FORMAT_VERSION = 1


class SagaStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"

    @property
    def active(self) -> bool:
        """Still to be driven by an engine (resumed after a crash)."""
        return self in (SagaStatus.RUNNING, SagaStatus.COMPENSATING)


class StepStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    """An attempt was committed as begun; its outcome is not recorded (yet)."""
    RETRYING = "RETRYING"
    """An attempt failed; the next waits for its backoff."""
    DONE = "DONE"
    FAILED = "FAILED"


class Attempt(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: str
    """``action`` or ``compensate``."""
    number: int
    started_at: float
    ended_at: float | None = None
    error: str | None = None


class Command(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The last command a step (``action``) or its compensation (``compensate``) sent with
    ``ctx.send``, and its reply once one came."""

    kind: str
    sends: int = 0
    id: str | None = None
    status: int | None = None
    """The reply's status; None while the command waits for its reply."""
    reply: msgspec.Raw = msgspec.Raw(b"null")
    seen: bool = False
    """An attempt has used the reply (a failed one makes the next attempt send anew)."""


class StepState(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    unknown: bool = False
    """Some attempt ended without an answer (timed out, or the worker died): it may have run."""
    compensation: StepStatus = StepStatus.PENDING
    compensation_attempts: int = 0
    error: str | None = None
    next_at: float | None = None
    """When a step (or compensation) in RETRYING may be tried again (epoch seconds)."""
    history: list[Attempt] = msgspec.field(default_factory=list)
    commands: list[Command] = msgspec.field(default_factory=list)

    def command(self, kind: str) -> Command:
        for command in self.commands:
            if command.kind == kind:
                return command
        created = Command(kind=kind)
        self.commands.append(created)
        return created

    @property
    def needs_compensation(self) -> bool:
        """It did, or may have done, its work: done, or its outcome is unknown."""
        return self.status == StepStatus.DONE or self.unknown


class SagaState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Everything but the row's columns (id, name, key, status, version, lease)."""

    v: int = FORMAT_VERSION
    cursor: str | None = None
    """The name of the step being run or compensated (resume is by name)."""
    data: msgspec.Raw = msgspec.Raw(b"null")
    steps: list[StepState] = msgspec.field(default_factory=list)
    error: str | None = None
    committed: bool = False
    """The pivot is done: the saga can only go forward now (no abort, no compensation)."""
    failed_in: str | None = None
    """``forward`` or ``compensate``: where a FAILED saga stopped (``retry`` resumes there)."""

    def step(self, name: str) -> StepState:
        for step in self.steps:
            if step.name == name:
                return step
        created = StepState(name=name)
        self.steps.append(created)
        return created


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SagaState)


def encode_state(state: SagaState, *, limit: int, saga: str) -> bytes:
    body = _ENCODER.encode(state)
    if len(body) > limit:
        raise SagaDataTooLarge(
            f"saga {saga!r}: its state is {len(body)} bytes, over the store's limit of {limit} "
            "bytes; keep large payloads elsewhere and store a reference in the saga's data"
        )
    return body


def decode_state(body: bytes | str, *, saga: str) -> SagaState:
    raw = body.encode() if isinstance(body, str) else body
    state = _DECODER.decode(raw)
    if state.v != FORMAT_VERSION:
        raise SagaError(f"saga {saga!r}: stored state format v{state.v} is not supported")
    return state


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
