"""What ``interlink certs`` refuses before writing anything: a validity under one day, and a
``--host`` that is neither a DNS name nor an IP address (exit status 2 on the command line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interlink import ConfigurationError
from interlink.cli._certs import init_ca, issue_cert

CLI = (sys.executable, "-m", "interlink", "certs")


def test_days_under_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--days must be at least 1"):
        init_ca(tmp_path / "ca", days=0)
    assert not (tmp_path / "ca").exists()
    init_ca(tmp_path / "ca")
    with pytest.raises(ConfigurationError, match="--days must be at least 1"):
        issue_cert(tmp_path / "ca", "orders", days=0)
    assert not (tmp_path / "ca" / "orders.pem").exists()


@pytest.mark.parametrize("host", ["bad host", "under_score.example", "-lead.example", "a..b", ""])
def test_a_host_that_is_no_dns_name_or_ip_is_refused(tmp_path: Path, host: str) -> None:
    init_ca(tmp_path)
    with pytest.raises(ConfigurationError, match="neither a DNS name nor an IP address"):
        issue_cert(tmp_path, "orders", hosts=[host])
    assert not (tmp_path / "orders.pem").exists()


def test_dns_names_wildcards_and_addresses_are_taken(tmp_path: Path) -> None:
    init_ca(tmp_path)
    hosts = ["inventory.internal", "*.svc.local", "10.0.0.7", "fe80::1", "a-b"]
    cert, key = issue_cert(tmp_path, "inventory", hosts=hosts)
    assert cert == tmp_path / "inventory.pem"
    assert key == tmp_path / "inventory.key"


def test_the_command_exits_2_on_a_bad_host(tmp_path: Path) -> None:
    init_ca(tmp_path)
    done = subprocess.run(
        [*CLI, "issue", "orders", "--dir", str(tmp_path), "--host", "no such host"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "neither a DNS name nor an IP address" in done.stderr
