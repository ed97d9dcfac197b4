"""Non-durable request/reply on NATS: core request/reply, outside every stream.

A request goes to the core subject ``_IL.R.<topic>`` (no stream captures it) with a reply
inbox; its servers subscribe in one queue group, so NATS hands each request to one of them,
and answers "no responders" at once when there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink.broker._base import Reply
from interlink.broker._transient import (
    REPLY_TO,
    TransientDelivery,
    TransientSubscription,
    no_responders,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["SERVER_BUFFER", "nats_request", "serve_nats_requests"]

SERVER_BUFFER = 10_000
"""Unread requests one server holds; NATS core has no flow control, so past this (and past
the client's own pending limit) a request is dropped and its caller times out."""
_QUEUE = "interlink"


def direct_subject(topic: str) -> str:
    return f"_IL.R.{topic}"


async def serve_nats_requests(nc: Client, topic: str) -> TransientSubscription:
    subscription = TransientSubscription(SERVER_BUFFER)

    async def arrive(msg: Msg) -> None:
        headers = dict(msg.headers or {})
        headers[REPLY_TO] = msg.reply
        if not subscription.offer(TransientDelivery(topic, msg.data, headers)):
            subscription.dropped += 1

    sub = await nc.subscribe(
        direct_subject(topic), queue=_QUEUE, cb=arrive, pending_msgs_limit=SERVER_BUFFER
    )
    await nc.flush()  # the server knows this one before serve returns: no false "no responder"

    async def leave() -> None:
        if not nc.is_closed:
            await sub.unsubscribe()

    subscription.on_close = leave
    return subscription


async def nats_request(nc: Client, topic: str, body: bytes, timeout: float) -> Reply:
    import nats.errors

    try:
        msg = await nc.request(direct_subject(topic), body, timeout=timeout)
    except nats.errors.NoRespondersError:
        raise no_responders(topic) from None
    except nats.errors.TimeoutError:
        raise TimeoutError(f"no reply from {topic!r} within {timeout}s") from None
    return Reply(dict(msg.headers or {}), msg.data)
