"""Finding the App a ``MODULE:attribute`` string names."""

from __future__ import annotations

import importlib
import os
import sys

from interlink._app import App

__all__ = ["CliError", "load_app"]


class CliError(Exception):
    """A one-line message for the user; the command exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def load_app(spec: str) -> App:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"expected MODULE:APP (like examples.shop:app), got {spec!r}", 2)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CliError(
                f"cannot import {module_name!r}: no module named {exc.name!r}", 2
            ) from None
        raise
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise CliError(f"module {module_name!r} has no attribute {attribute!r}", 2) from None
    if not isinstance(app, App):
        raise CliError(f"{spec} is a {type(app).__name__}, not an interlink App", 2)
    return app
