"""Socket transport: interlink's own framing over TCP or Unix sockets, many calls per
connection (see docs/transports.md)."""

from interlink.transport.socket._address import SocketAddress, parse_address
from interlink.transport.socket._client import SocketClient
from interlink.transport.socket._server import SocketServer

__all__ = ["SocketAddress", "SocketClient", "SocketServer", "parse_address"]
