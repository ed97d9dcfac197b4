import pytest

import interlink as il
from interlink.transport._tls import identity_uri, peer_identity


def _cert(*sans: tuple[str, str]) -> dict[str, object]:
    return {"subject": ((("commonName", "orders"),),), "subjectAltName": sans}


def test_the_identity_is_the_spiffe_uri_san() -> None:
    assert identity_uri("orders") == "spiffe://interlink/orders"
    cert = _cert(("DNS", "localhost"), ("URI", "spiffe://interlink/orders"))
    assert peer_identity(cert) == "orders"


def test_no_identity_from_the_common_name_other_uris_or_several_names() -> None:
    assert peer_identity(_cert(("DNS", "orders"))) is None
    assert peer_identity(_cert(("URI", "spiffe://other/orders"))) is None
    assert peer_identity(_cert(("URI", "spiffe://interlink/"))) is None
    two = _cert(("URI", "spiffe://interlink/a"), ("URI", "spiffe://interlink/b"))
    assert peer_identity(two) is None
    assert peer_identity(None) is None
    assert peer_identity({}) is None


def test_missing_files_are_a_configuration_error() -> None:
    tls = il.Tls(ca="/nonexistent/ca.pem", cert="/nonexistent/c.pem", key="/nonexistent/k.pem")
    with pytest.raises(il.ConfigurationError, match="TLS files"):
        tls.server_context()
    with pytest.raises(il.ConfigurationError, match="TLS files"):
        tls.grpc_channel_credentials()


def test_peers_is_a_set_of_names() -> None:
    tls = il.Tls(ca="a", cert="b", key="c", peers=["orders", "orders"])
    assert tls.peers == frozenset({"orders"})
    with pytest.raises(il.ConfigurationError):
        il.Tls(ca="a", cert="b", key="c", peers="orders")
    assert il.App([], tls=tls).tls is tls
