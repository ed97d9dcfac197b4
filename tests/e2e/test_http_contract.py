"""The example shop's HTTP contract, checked from the outside.

The shop runs on a free loopback port; schemathesis (every check, all phases) runs against its
``/openapi.json`` as a separate process, and openapi-spec-validator validates the document.
The run is bounded (a fixed number of examples per operation, a fixed seed) so that it is
reproducible and takes well under a minute.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from examples.shop import app as shop

import interlink as il

pytest.importorskip("schemathesis", reason="pip install schemathesis (in the dev extra)")
pytest.importorskip("openapi_spec_validator", reason="pip install openapi-spec-validator")

# The module (the package's `inventory` is the Service of the same name).
inventory = importlib.import_module("examples.shop.inventory")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20260101
MAX_EXAMPLES = 25


@pytest.fixture
async def running_shop() -> AsyncIterator[il.App]:
    stock = dict(inventory._stock)  # the fuzzer reserves stock: give it back to other tests
    try:
        async with shop.replace(port=0, broker="memory://", registry="memory://") as app:
            yield app
    finally:
        inventory._stock.clear()
        inventory._stock.update(stock)


def schemathesis_command() -> list[str]:
    beside = Path(sys.executable).with_name("schemathesis")
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    assert found is not None, "the schemathesis command is not installed"
    return [found]


@pytest.mark.timeout(180)
async def test_schemathesis_finds_nothing_against_the_shop(
    running_shop: il.App, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        *schemathesis_command(),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{running_shop.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert "Operations:       15 selected / 15 total" in report, report
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report
    assert counts[1] == counts[2], report


async def test_the_shops_document_is_valid_openapi_3_1(running_shop: il.App) -> None:
    from openapi_spec_validator import validate

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running_shop.url}/openapi.json") as resp,
    ):
        document = await resp.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    place = document["paths"]["/rpc/orders/place"]["post"]["responses"]
    # The errors of the calls it makes, which it lets through, are declared and listed.
    assert {"402", "404", "409"} <= set(place)
    assert "PaymentDeclined" in place["402"]["description"]
