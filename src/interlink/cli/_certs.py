"""``interlink certs init | issue``: a local CA and one certificate per service, for mutual TLS.

``init`` writes ``ca.pem`` and ``ca.key``; ``issue SERVICE`` writes ``SERVICE.pem`` and
``SERVICE.key`` signed by that CA, naming the service as ``spiffe://interlink/SERVICE``.
Keys are ECDSA P-256, written with mode 0600.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from interlink._errors import ConfigurationError
from interlink.transport._tls import identity_uri

__all__ = ["CA_DAYS", "SERVICE_DAYS", "certs", "init_ca", "issue_cert"]

CA_DAYS = 3650
SERVICE_DAYS = 365
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")

certs = typer.Typer(help="Make a local CA and per-service certificates.", no_args_is_help=True)

Directory = Annotated[Path, typer.Option("--dir", help="Where the CA and certificates live.")]


def _x509() -> Any:
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - cryptography is in the dev environment
        raise ConfigurationError(
            'interlink certs needs cryptography: pip install "interlink[tls]"'
        ) from None
    return x509


def _write(path: Path, data: bytes, *, private: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    if private:
        os.chmod(path, 0o600)  # an existing file keeps its mode through os.open


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def init_ca(
    directory: Path | str, *, days: int = CA_DAYS, force: bool = False, name: str = "interlink CA"
) -> tuple[Path, Path]:
    """Write a self-signed CA (``ca.pem``, ``ca.key``) into ``directory``; returns both paths.
    An existing CA is kept unless ``force``: replacing it invalidates every issued cert."""
    x509 = _x509()
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    _check_days(days)
    folder = Path(directory)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if not force and (cert_path.exists() or key_path.exists()):
        raise ConfigurationError(f"{folder} already holds a CA (use --force to replace it)")
    folder.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(x509, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, _cert_pem(cert), private=False)
    return cert_path, key_path


def issue_cert(
    directory: Path | str,
    service: str,
    *,
    hosts: Sequence[str] = (),
    days: int = SERVICE_DAYS,
    not_before: datetime | None = None,
) -> tuple[Path, Path]:
    """Write ``SERVICE.pem`` and ``SERVICE.key`` signed by the CA in ``directory``. The cert
    names ``spiffe://interlink/SERVICE``, ``localhost``, ``127.0.0.1``, ``::1`` and ``hosts``;
    it is valid for ``days`` from ``not_before`` (now)."""
    x509 = _x509()
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not _SERVICE_NAME.fullmatch(service):
        raise ConfigurationError(f"{service!r} is not a service name (letters, digits, . _ -)")
    _check_days(days)
    for host in hosts:
        if not _is_ip(host) and not _DNS_NAME.fullmatch(host):
            raise ConfigurationError(f"--host {host!r} is neither a DNS name nor an IP address")
    folder = Path(directory)
    try:
        ca_cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    except OSError as exc:
        raise ConfigurationError(f"no CA in {folder} (run `interlink certs init`): {exc}") from None
    key = _new_key()
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(x509, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_names(x509, service, hosts)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{service}.pem", folder / f"{service}.key"
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, _cert_pem(cert), private=False)
    return cert_path, key_path


def _usage(x509: Any, *, ca: bool) -> Any:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _check_days(days: int) -> None:
    if days < 1:
        raise ConfigurationError(f"--days must be at least 1, not {days}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _names(x509: Any, service: str, hosts: Sequence[str]) -> list[Any]:
    names: list[Any] = [x509.UniformResourceIdentifier(identity_uri(service))]
    for host in ("localhost", "127.0.0.1", "::1", *hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


@certs.command("init")
def init_command(
    directory: Directory = Path(".interlink/certs"),
    days: Annotated[int, typer.Option(help="How long the CA is valid.")] = CA_DAYS,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing CA.")] = False,
) -> None:
    """Make a local CA: ca.pem (share it) and ca.key (keep it; mode 0600)."""
    try:
        cert, key = init_ca(directory, days=days, force=force)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"CA: {cert} (key {key})")


@certs.command("issue")
def issue_command(
    service: Annotated[str, typer.Argument(help="The service the certificate names.")],
    directory: Directory = Path(".interlink/certs"),
    host: Annotated[
        list[str] | None, typer.Option("--host", help="Another DNS name or IP it serves at.")
    ] = None,
    days: Annotated[int, typer.Option(help="How long the certificate is valid.")] = SERVICE_DAYS,
) -> None:
    """Issue SERVICE.pem and SERVICE.key, signed by the CA in --dir."""
    try:
        cert, key = issue_cert(directory, service, hosts=host or (), days=days)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{identity_uri(service)}: {cert} (key {key})")
