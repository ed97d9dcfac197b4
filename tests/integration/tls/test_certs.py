import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

import interlink as il
from interlink.cli._certs import init_ca, issue_cert
from interlink.transport._tls import peer_identity

from .conftest import Certs


def test_contexts_are_tls12_plus_and_require_a_certificate(tls_files: il.Tls) -> None:
    for context in (tls_files.server_context(), tls_files.client_context()):
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert tls_files.client_context().check_hostname


def test_issued_cert_names_the_service_and_loopback(certs: Certs) -> None:
    cert = x509.load_pem_x509_certificate((certs.directory / "orders.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://interlink/orders"]
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_keys_are_private(certs: Certs) -> None:
    for name in ("ca.key", "orders.key"):
        assert stat.S_IMODE((certs.directory / name).stat().st_mode) == 0o600


def test_init_keeps_an_existing_ca_unless_forced(tmp_path: Path) -> None:
    init_ca(tmp_path)
    before = (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(il.ConfigurationError, match="already holds a CA"):
        init_ca(tmp_path)
    init_ca(tmp_path, force=True)
    assert (tmp_path / "ca.pem").read_bytes() != before


def test_issue_needs_a_ca_and_a_service_name(tmp_path: Path) -> None:
    with pytest.raises(il.ConfigurationError, match="certs init"):
        issue_cert(tmp_path, "orders")
    init_ca(tmp_path)
    with pytest.raises(il.ConfigurationError, match="not a service name"):
        issue_cert(tmp_path, "../orders")


def test_the_cli_makes_files_a_tls_server_accepts(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "interlink", "certs"]
    subprocess.run([*run, "init", "--dir", str(tmp_path)], check=True, capture_output=True)
    done = subprocess.run(
        [*run, "issue", "billing", "--dir", str(tmp_path), "--host", "billing.internal"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "spiffe://interlink/billing" in done.stdout
    tls = il.Tls(
        ca=str(tmp_path / "ca.pem"),
        cert=str(tmp_path / "billing.pem"),
        key=str(tmp_path / "billing.key"),
    )
    tls.server_context()
    decoded = ssl._ssl._test_decode_cert(str(tmp_path / "billing.pem"))  # type: ignore[attr-defined]
    assert peer_identity(decoded) == "billing"
    assert ("DNS", "billing.internal") in decoded["subjectAltName"]


def test_grpc_credentials_come_from_the_same_files(tls_files: il.Tls) -> None:
    grpc = pytest.importorskip("grpc")
    assert isinstance(tls_files.grpc_server_credentials(), grpc.ServerCredentials)
    assert isinstance(tls_files.grpc_channel_credentials(), grpc.ChannelCredentials)
