"""Fixtures for the discovery suite."""

from __future__ import annotations

import pytest

from interlink.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
