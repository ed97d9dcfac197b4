"""Choosing a database backend from a URL."""

from __future__ import annotations

from typing import Any

from interlink._errors import ConfigurationError
from interlink.messaging.inbox._base import Database

__all__ = ["database_class", "database_from_url"]

_POSTGRES = ("postgresql://", "postgres://")


def database_class(url: str) -> type[Database]:
    """The backend for ``sqlite:///path`` or ``postgresql://…`` (``postgres://…``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a database URL must be a string, not {url!r}")
    if url.startswith("sqlite:"):
        from interlink.messaging.inbox._sqlite import SqliteDatabase

        return SqliteDatabase
    if url.startswith(_POSTGRES):
        from interlink.messaging.inbox._postgres import PostgresDatabase

        return PostgresDatabase
    raise ConfigurationError(
        f"unknown database URL {url!r}: interlink supports 'sqlite:///relative/path.db', "
        "'sqlite:////absolute/path.db' and 'postgresql://user:password@host:port/database'"
    )


def database_from_url(url: str, **options: Any) -> Database:
    """``Database(url, **options)``: the backend the URL names, with that backend's options."""
    return database_class(url)(url, **options)
