"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright, and the
directory screenshots go to (``$INTERLINK_ARTIFACTS/dashboard``, else ``artifacts/dashboard``)."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def artifacts() -> Path:
    base = Path(os.environ.get("INTERLINK_ARTIFACTS", ROOT / "artifacts"))
    path = base / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "the page tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1100})
            yield await context.new_page()
        finally:
            await browser.close()
    # Playwright's driver pipe, collected later with the loop closed, warns in whatever test
    # runs then: collect it now, while this test's loop still runs.
    gc.collect()
