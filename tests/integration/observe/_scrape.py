"""Scrape an App's ``GET /metrics`` and read samples out of the Prometheus text."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


async def scrape(url: str) -> dict[str, list[Sample]]:
    """Family name -> its samples, parsed with the Prometheus text parser."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def value(families: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    """The one sample ``name`` with exactly these labels (among others), or None."""
    family = name.removesuffix("_total")
    found = [
        s.value
        for s in families.get(family, [])
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, found
    return found[0] if found else None
