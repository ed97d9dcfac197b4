"""The edge: WebSocket event push and GraphQL over service RPCs."""

from interlink.gateway._feed_frames import FeedEvent
from interlink.gateway._feed_hub import Allow, FeedStats
from interlink.gateway._graphql import Caller, graphql_app, graphql_schema
from interlink.gateway._identity import Identity
from interlink.gateway._websocket import EventFeed, allow_all

__all__ = [
    "Allow",
    "Caller",
    "EventFeed",
    "FeedEvent",
    "FeedStats",
    "Identity",
    "allow_all",
    "graphql_app",
    "graphql_schema",
]
