"""The ``interlink`` command line."""

from interlink.cli._main import cli, main

__all__ = ["cli", "main"]
