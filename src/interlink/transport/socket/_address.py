"""Socket addresses as URLs: ``tcp://host:port`` and ``unix:///absolute/path``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from interlink._errors import ConfigurationError

__all__ = ["SocketAddress", "parse_address"]


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """A TCP host and port, or (``host`` empty) a Unix socket path."""

    host: str
    port: int
    path: str = ""

    @property
    def is_unix(self) -> bool:
        return bool(self.path)

    def url(self) -> str:
        if self.path:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


def parse_address(url: str) -> SocketAddress:
    """ConfigurationError unless ``url`` is ``tcp://host:port`` or ``unix:///path``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        path = parts.netloc + parts.path
        if not path.startswith("/"):
            raise ConfigurationError(f"a Unix socket address is unix:///absolute/path, not {url!r}")
        return SocketAddress("", 0, path)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port is not None:
            return SocketAddress(parts.hostname, port)
    raise ConfigurationError(f"a socket address is tcp://host:port or unix:///path, not {url!r}")
