"""``Gateway.from_toml(path)``: the routes that can be written as data.

Top level: ``registry`` (URL), ``balancer`` (a kind name), ``[[route]]`` tables and ``[[bff]]``
tables (``name``, ``prefix``, ``project`` and their own ``[[bff.route]]``). A route table takes
``path``, ``service``, ``methods``, ``host``, ``headers``, ``rewrite``, ``max_body``,
``project``, ``timeout`` (seconds per attempt), ``retries`` (attempts in all, retrying a
``CallError`` when safe), ``versions`` (``header``, ``weights``), ``mirror`` (``service``,
``max_in_flight``) and ``aggregate`` (part name → ``service``, ``path``, ``fallback``). Middleware,
mounted apps, breakers and other policies need Python.
"""

from __future__ import annotations

import tomllib
from typing import Any

from interlink._errors import CallError, ConfigurationError
from interlink.gateway._aggregate import Aggregate, Part
from interlink.gateway._bff import Bff
from interlink.gateway._gateway import Gateway
from interlink.gateway._route import Route
from interlink.gateway._traffic import Mirror, Versions
from interlink.resilience import Policy, Retry

__all__ = ["gateway_from_toml"]

_PLAIN = ("path", "service", "methods", "host", "headers", "rewrite", "max_body", "project", "name")
_KNOWN = frozenset({*_PLAIN, "timeout", "retries", "versions", "mirror", "aggregate"})


def gateway_from_toml(path: str, **options: Any) -> Gateway:
    with open(path, "rb") as file:
        config = tomllib.load(file)
    routes: list[Route | Bff] = [_route(table) for table in config.get("route", [])]
    for table in config.get("bff", []):
        bff_routes = [_route(t) for t in table.get("route", [])]
        routes.append(
            Bff(
                table["name"],
                routes=bff_routes,
                prefix=table.get("prefix"),
                project=table.get("project"),
            )
        )
    for key in ("registry", "balancer"):
        if key in config:
            options.setdefault(key, config[key])
    return Gateway(routes, **options)


def _route(table: dict[str, Any]) -> Route:
    unknown = set(table) - _KNOWN
    if unknown:
        raise ConfigurationError(f"unknown route keys {sorted(unknown)} in {table.get('path')!r}")
    fields: dict[str, Any] = {k: table[k] for k in _PLAIN if k in table}
    if "timeout" in table or "retries" in table:
        retry = None
        if table.get("retries", 1) > 1:
            retry = Retry(attempts=table["retries"], on=CallError)
        fields["policy"] = Policy(timeout=table.get("timeout"), retry=retry)
    if "versions" in table:
        fields["versions"] = Versions(**table["versions"])
    if "mirror" in table:
        fields["mirror"] = Mirror(**table["mirror"])
    if "aggregate" in table:
        fields["aggregate"] = Aggregate({n: Part(**p) for n, p in table["aggregate"].items()})
    try:
        return Route(**fields)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"route {table.get('path')!r}: {exc}") from exc
