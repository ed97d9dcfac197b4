"""Sagas: crash-safe orchestration with compensation.

::

    checkout = Saga("checkout", data=Checkout, store=db)

    @checkout.step(compensate=release_stock)
    async def reserve_stock(data: Checkout, ctx: StepContext) -> None: ...

    async with SagaEngine([checkout]) as engine:        # or App(..., sagas=[checkout])
        saga_id = await engine.start(checkout, Checkout(...), key=order_id)
"""

from interlink.saga._choreography import Choreography
from interlink.saga._context import StepContext
from interlink.saga._engine import SagaEngine
from interlink.saga._errors import (
    OwnershipLost,
    ProcessNotStarted,
    SagaDataTooLarge,
    SagaError,
    SagaNotFound,
    StepTimeout,
)
from interlink.saga._policy import StepRetry
from interlink.saga._saga import Saga, Step, StepKind
from interlink.saga._state import SagaState, SagaStatus, StepState, StepStatus
from interlink.saga._store import SagaRow, SagaStore

__all__ = [
    "Choreography",
    "OwnershipLost",
    "ProcessNotStarted",
    "Saga",
    "SagaDataTooLarge",
    "SagaEngine",
    "SagaError",
    "SagaNotFound",
    "SagaRow",
    "SagaState",
    "SagaStatus",
    "SagaStore",
    "Step",
    "StepContext",
    "StepKind",
    "StepRetry",
    "StepState",
    "StepStatus",
    "StepTimeout",
]
