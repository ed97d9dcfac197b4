"""``interlink proto MODULE:APP [--only SERVICE] [--out FILE]``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from interlink.cli._load import CliError, load_app
from interlink.cli._runner import err

__all__ = ["proto"]


def proto(
    app_spec: Annotated[str, typer.Argument(metavar="MODULE:APP", help="e.g. examples.shop:app")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Describe only this service (repeatable).")
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the .proto to this file, not stdout.")
    ] = None,
) -> None:
    """Print the .proto (proto3) of the app's RPCs: what its gRPC transport serves. Exit 2
    when a model cannot be mapped to protobuf (the message names the field)."""
    from interlink._errors import DefinitionError
    from interlink.transport.grpc import package_name, schema_of

    try:
        app = load_app(app_spec)
        names = only or list(app.services)
        unknown = sorted(set(names) - set(app.services))
        if unknown:
            raise CliError(f"no service {', '.join(unknown)} in {app_spec}", 2)
        try:
            schema = schema_of(package_name(app.name), [app.services[n] for n in names])
        except DefinitionError as exc:
            raise CliError(str(exc), 2) from None
    except CliError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None
    if out is None:
        sys.stdout.write(schema.proto())
        return
    with open(out, "w", encoding="utf-8") as file:
        file.write(schema.proto())
