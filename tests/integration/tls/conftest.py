"""Certificates made by ``interlink certs`` code, once per session, in a temporary directory."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import interlink as il
from interlink.cli._certs import init_ca, issue_cert


@dataclasses.dataclass(frozen=True)
class Certs:
    directory: Path
    other_ca: Path

    def tls(self, service: str, **kwargs: object) -> il.Tls:
        d = self.directory
        return il.Tls(
            ca=str(d / "ca.pem"),
            cert=str(d / f"{service}.pem"),
            key=str(d / f"{service}.key"),
            **kwargs,
        )  # type: ignore[arg-type]

    def foreign(self, service: str) -> il.Tls:
        """A cert for ``service`` from another CA (which trusts our servers' CA)."""
        d = self.other_ca
        return il.Tls(
            ca=str(self.directory / "ca.pem"),
            cert=str(d / f"{service}.pem"),
            key=str(d / f"{service}.key"),
        )


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("certs")
    init_ca(directory)
    for service in ("orders", "inventory", "intruder"):
        issue_cert(directory, service)
    old = datetime.now(UTC) - timedelta(days=10)
    expired = directory / "expired"
    expired.mkdir()
    for name in ("ca.pem", "ca.key"):
        (expired / name).write_bytes((directory / name).read_bytes())
    issue_cert(expired, "orders", days=1, not_before=old)
    other = tmp_path_factory.mktemp("other-ca")
    init_ca(other)
    issue_cert(other, "orders")
    return Certs(directory=directory, other_ca=other)


@pytest.fixture
def tls_files(certs: Certs) -> il.Tls:
    return certs.tls("orders")
