"""The errors a saga raises, under :class:`~interlink.InterlinkError`.

::

    InterlinkError
    └── SagaError                  a saga cannot go on as asked
        ├── SagaDataTooLarge       its state would exceed the store's size limit (when written)
        ├── OwnershipLost          another worker advanced it: this one must stop (fencing)
        ├── SagaNotFound           no saga with that id
        ├── ProcessNotStarted      a choreographed event came before its flow's start event
        └── StepTimeout            an attempt got no answer in its time (outcome unknown)
"""

from __future__ import annotations

from interlink._errors import InterlinkError

__all__ = [
    "OwnershipLost",
    "ProcessNotStarted",
    "SagaDataTooLarge",
    "SagaError",
    "SagaNotFound",
    "StepTimeout",
]


class SagaError(InterlinkError):
    """The root of the saga errors."""


class SagaDataTooLarge(SagaError):
    """The saga's serialized state is larger than the store accepts; nothing was written."""

    non_retryable = True


class OwnershipLost(SagaError):
    """The saga's version or owner changed under this worker: its write was refused."""


class SagaNotFound(SagaError):
    """No saga has that id."""


class ProcessNotStarted(SagaError):
    """An event of a choreographed flow arrived before the start event of its process (they
    travel on different topics): observe it again later. An App's tracker retries it."""


class StepTimeout(SagaError, TimeoutError):
    """An attempt did not finish within its ``timeout``: it may or may not have had its effect."""
