"""Public test kit: an in-memory system, and a fake clock."""

from interlink.testing._app import TestApp
from interlink.testing._clock import FakeClock

__all__ = ["FakeClock", "TestApp"]
