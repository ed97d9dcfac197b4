"""The zero-infrastructure default: a real NATS JetStream server run as a child process."""

from interlink.embedded._nats_cluster import EmbeddedNatsCluster
from interlink.embedded._nats_server import EmbeddedNats, find_nats_server, jetstream_config

__all__ = ["EmbeddedNats", "EmbeddedNatsCluster", "find_nats_server", "jetstream_config"]
