"""Dependencies point down the layers (DESIGN.md §2-3): a backend or a transport never imports
the App, the runtime, or the messaging layer above the Broker seam."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "interlink"

FORBIDDEN = {
    "broker": (
        "interlink._app",
        "interlink.runtime",
        "interlink.messaging",
        "interlink.transport",
        "interlink.observe",
    ),
    "transport": ("interlink._app", "interlink.runtime", "interlink.messaging", "interlink.broker"),
    "messaging": (
        "interlink._app",
        "interlink.runtime",
        "interlink.transport",
        "interlink.observe",
    ),
    "resilience": (
        "interlink._app",
        "interlink.runtime",
        "interlink.messaging",
        "interlink.broker",
        "interlink.observe",
    ),
    # The doctor reads a declared App; it never runs one.
    "doctor": ("interlink.runtime", "interlink.transport", "interlink.broker", "interlink.cli"),
    # Observing reads brokers and consumers (state metrics); they never import it.
    "observe": ("interlink._app", "interlink.runtime", "interlink.transport"),
    "gateway": ("interlink.runtime", "interlink.dashboard", "interlink.doctor", "interlink.cli"),
    "dashboard": ("interlink._app", "interlink.runtime", "interlink.cli"),
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    wrong = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / layer).rglob("*.py")
        for name in imports(path)
        if name.startswith(FORBIDDEN[layer])
    }
    assert not wrong, sorted(wrong)
