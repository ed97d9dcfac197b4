"""A NATS URL's server list, and how many copies of a stream a cluster should keep.

``nats://h1:4222,h2:4222,h3:4222`` names three servers of one cluster: the client connects to
one and fails over to the others (and to any the servers advertise) when it goes away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink.broker._nats_streams import AUTO_REPLICAS

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["CLUSTER_REPLICAS", "replicas_for", "server_list"]

CLUSTER_REPLICAS = 3
"""Copies kept on a cluster of 3 or more: one server can die and a majority remains."""


def server_list(address: str) -> list[str]:
    """``nats://a:1,b:2`` -> ``["nats://a:1", "nats://b:2"]`` (each keeps the URL's scheme)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        return [address]
    return [item if "://" in item else f"{scheme}://{item}" for item in rest.split(",") if item]


def replicas_for(nc: Client, configured: int) -> int:
    """``configured``, or if it is ``AUTO_REPLICAS``: 3 when the client knows at least 3
    servers of the cluster (the URL's and those the server advertised when it connected),
    else 1. A server advertises its peers only when it runs in a cluster."""
    if configured != AUTO_REPLICAS:
        return configured
    known = {(url.hostname, url.port) for url in nc.servers}
    return CLUSTER_REPLICAS if len(known) >= CLUSTER_REPLICAS else 1
