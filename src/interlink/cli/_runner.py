"""Running a command's coroutine: uvloop, and one place that turns errors into exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer
from rich.console import Console

from interlink._errors import InterlinkError
from interlink.cli._load import CliError

__all__ = ["err", "run_async"]

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)


def run_async(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run on uvloop; a CliError or InterlinkError becomes one red line and an exit code."""
    try:
        return _loop_runner(coro_fn)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None
    except InterlinkError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _loop_runner(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed on every supported platform
        return asyncio.run(coro_fn())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro_fn())
