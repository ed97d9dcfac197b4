"""``Tls``: mutual TLS between services, from a CA and one certificate per service.

Every transport builds its contexts from the same three files: the CA that signs every
service's certificate, this service's certificate and its key. Both sides present a
certificate and both require one signed by the CA (``CERT_REQUIRED``), TLS 1.2 or newer.

A service's identity is a URI subject alternative name ``spiffe://interlink/<service>``
(:func:`identity_uri`); :func:`peer_identity` reads it back from the certificate the peer
presented. The subject's common name is never taken as an identity.
"""

from __future__ import annotations

import dataclasses
import importlib
import ssl
from collections.abc import Collection
from typing import Any

from interlink._errors import ConfigurationError

__all__ = ["IDENTITY_PREFIX", "Tls", "identity_uri", "peer_identity"]

IDENTITY_PREFIX = "spiffe://interlink/"
"""A service's identity is this prefix and its name, as a URI subject alternative name."""


def identity_uri(service: str) -> str:
    """The URI SAN that names ``service``: ``spiffe://interlink/<service>``."""
    return IDENTITY_PREFIX + service


def peer_identity(peercert: Any) -> str | None:
    """The service a verified peer certificate names (``ssl.SSLSocket.getpeercert()``'s dict),
    or None when it names none (or several)."""
    if not isinstance(peercert, dict):
        return None
    names = {
        value[len(IDENTITY_PREFIX) :]
        for kind, value in peercert.get("subjectAltName", ())
        if kind == "URI" and value.startswith(IDENTITY_PREFIX) and len(value) > len(IDENTITY_PREFIX)
    }
    return names.pop() if len(names) == 1 else None


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Tls:
    """Serve and call with mutual TLS: ``App(..., tls=il.Tls(ca=..., cert=..., key=...))``.

    ``ca``, ``cert`` and ``key`` are PEM files (``interlink certs init`` / ``issue`` make
    them). ``peers``, when given, is the set of service identities allowed to call any handler
    that does not declare its own ``allow=``. The files are read each time a context is built
    (when the App starts): a rotated certificate takes effect at the next start.
    """

    ca: str
    """The CA certificate (PEM) that must have signed every peer's certificate."""
    cert: str
    """This service's certificate (PEM), signed by ``ca``."""
    key: str
    """This certificate's private key (PEM, unencrypted)."""
    peers: Collection[str] | None = None
    """Identities allowed to call handlers without their own ``allow=``; None: any valid peer."""

    def __post_init__(self) -> None:
        if self.peers is not None:
            if isinstance(self.peers, str):
                raise ConfigurationError("Tls(peers=...) is a collection of service names")
            object.__setattr__(self, "peers", frozenset(self.peers))

    def server_context(self) -> ssl.SSLContext:
        """For a listener: presents ``cert``, requires a client certificate signed by ``ca``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._configure(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """For a caller: presents ``cert``, requires the server's certificate signed by ``ca``
        and naming the host it is called at (``localhost`` or ``127.0.0.1`` for loopback)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._configure(context)
        context.check_hostname = True
        return context

    def _configure(self, context: ssl.SSLContext) -> None:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_verify_locations(cafile=self.ca)
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the TLS files ({self._files()}): {exc}"
            ) from None

    def _files(self) -> str:
        return f"ca={self.ca}, cert={self.cert}, key={self.key}"

    def _read(self) -> tuple[bytes, bytes, bytes]:
        try:
            with (
                open(self.ca, "rb") as ca,
                open(self.cert, "rb") as cert,
                open(self.key, "rb") as key,
            ):
                return ca.read(), cert.read(), key.read()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the TLS files ({self._files()}): {exc}"
            ) from None

    def grpc_server_credentials(self) -> Any:
        """The same files for a grpc.aio server (``grpc.ServerCredentials``); a client certificate
        signed by ``ca`` is required."""
        grpc = _grpc()
        ca, cert, key = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def grpc_channel_credentials(self) -> Any:
        """The same files for a grpc.aio channel (``grpc.ChannelCredentials``); it presents
        ``cert`` to the server."""
        grpc = _grpc()
        ca, cert, key = self._read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )


def _grpc() -> Any:
    try:
        # By name: mypy then needs no stubs for grpcio, whichever branch configures them.
        return importlib.import_module("grpc")
    except ImportError:  # pragma: no cover - grpcio is in the dev environment
        raise ConfigurationError(
            'gRPC with TLS needs grpcio: pip install "interlink[grpc]"'
        ) from None
