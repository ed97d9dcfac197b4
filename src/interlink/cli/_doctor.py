"""``interlink doctor [MODULE:APP] [--traces FILE|URL] [--set NAME=N] [--json]``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from interlink.cli._load import CliError, load_app
from interlink.cli._runner import err

__all__ = ["doctor"]


def doctor(
    app_spec: Annotated[
        str | None,
        typer.Argument(metavar="MODULE:APP", help="The App to examine, e.g. examples.shop:app."),
    ] = None,
    traces: Annotated[
        list[str] | None,
        typer.Option(
            "--traces",
            help="Recorded spans: a JSON file (interlink's or OTLP/JSON) or a service's "
            "http://host:port (its /_interlink/spans). Repeatable.",
        ),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="A threshold, NAME=N (e.g. chain_depth=4). Repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Find the pitfalls of a system: from its declaration and handler source, and from
    recorded traces. Exit 1 when any finding is an error, 2 on a usage error."""
    from interlink.doctor import SpanError, diagnose, load_spans, parse_settings

    try:
        if app_spec is None and not traces:
            raise CliError("give an App (MODULE:APP), --traces, or both", 2)
        try:
            thresholds = parse_settings(settings or ())
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        app = load_app(app_spec) if app_spec is not None else None
        try:
            spans = [span for source in traces or () for span in load_spans(source)]
        except SpanError as exc:
            raise CliError(str(exc), 2) from None
    except CliError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.code) from None
    report = diagnose(app, spans=spans, thresholds=thresholds)
    typer.echo(report.to_json() if as_json else report.render())
    raise typer.Exit(report.exit_code)
