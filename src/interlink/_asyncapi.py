"""An AsyncAPI 3.0 document for the events of some services: what each publishes and consumes.

Every topic is a channel; a service's ``publishes={topic: Model}`` declaration is a ``send``
operation and each ``@subscribe`` a ``receive`` operation (with a ``reply`` when the handler
returns a value for ``ctx.request``). On the broker a message is a CloudEvents 1.0 event in the
JSON format (structured mode), so each message's payload is the envelope, its attributes
(interlink's extensions and W3C trace context included) and the model as ``data``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from interlink._codec import Codec
from interlink._handlers import Subscriber
from interlink._service import Service
from interlink.messaging._headers import REPLY_TO, STATUS

__all__ = ["asyncapi_document"]

_REF = "#/components/schemas/{model}"
_ID_CHARS = re.compile(r"[^\w.\-]")

_STRING = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
CLOUD_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvents 1.0 event in the JSON format (structured mode).",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {
            **_STRING,
            "minLength": 1,
            "description": "Unique per event; the broker's "
            "message id, so a publish sent again is dropped.",
        },
        "source": {**_STRING, "minLength": 1, "description": "/{publishing service}"},
        "type": {**_STRING, "minLength": 1, "description": "The topic."},
        "time": {**_TIME, "description": "When it was published (RFC 3339, UTC)."},
        "datacontenttype": {**_STRING, "description": "Absent: application/json."},
        "subject": _STRING,
        "traceparent": {**_STRING, "description": "W3C Trace Context of the publisher."},
        "tracestate": {**_STRING, "description": "W3C Trace Context vendor state."},
        "correlationid": {**_STRING, "description": "Shared by all work from one request."},
        "causationid": {**_STRING, "description": "The id of the message that caused it."},
        "partitionkey": {**_STRING, "description": "Events with one key are handled in order."},
        "deadline": {**_TIME, "description": "After this time nobody should work on it."},
        "data": {"description": "The event itself."},
    },
}
_HEADERS = {
    "type": "object",
    "properties": {
        REPLY_TO: {**_STRING, "description": "Where a reply goes (set by ctx.request)."},
    },
}
_REPLY_HEADERS = {
    "type": "object",
    "properties": {STATUS: {**_STRING, "description": "200, or the status of the failure."}},
}


def asyncapi_document(title: str, version: str, services: Iterable[Service]) -> dict[str, Any]:
    builder = _Builder()
    for service in services:
        for topic, codec in service.publishes.items():
            builder.send(service, topic, codec)
        for subscriber in service.subscribers:
            builder.receive(service, subscriber)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version},
        "defaultContentType": "application/cloudevents+json",
        "channels": builder.channels,
        "operations": builder.operations,
        "components": {"schemas": builder.schemas, "messages": builder.messages},
    }


class _Builder:
    def __init__(self) -> None:
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.schemas: dict[str, Any] = {"CloudEvent": CLOUD_EVENT}
        self.messages: dict[str, Any] = {}

    def send(self, service: Service, topic: str, codec: Codec[Any]) -> None:
        ref = self._message(topic, codec)
        self.operations[_id(f"{service.name}.publish.{topic}")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_id(topic)}"},
            "messages": [ref],
            "summary": f"{service.name} publishes {topic}",
        }

    def receive(self, service: Service, subscriber: Subscriber[Any]) -> None:
        topic = subscriber.topic
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_id(topic)}"},
            "messages": [self._message(topic, subscriber.message)],
            "summary": f"{service.name} handles {topic} in group {subscriber.group}",
        }
        if subscriber.response is not None:
            operation["reply"] = self._reply(topic, subscriber.response)
        name = getattr(subscriber.fn, "__name__", "handler")
        self.operations[_id(f"{service.name}.{name}.{topic}")] = operation

    def _message(self, topic: str, codec: Codec[Any]) -> dict[str, str]:
        """The event of ``codec``'s model on ``topic``: its channel message, made once."""
        channel = self.channels.setdefault(
            _id(topic), {"address": topic, "messages": {}, "title": topic}
        )
        name = _id(codec.name)
        if name not in self.messages:
            root, definitions = codec.schema(_REF)
            self.schemas.update(definitions)
            self.messages[name] = {
                "name": name,
                "contentType": "application/cloudevents+json",
                "headers": _HEADERS,
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/CloudEvent"},
                        {"type": "object", "properties": {"data": root}, "required": ["data"]},
                    ]
                },
                "correlationId": {"location": "$message.payload#/correlationid"},
            }
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        return {"$ref": f"#/channels/{_id(topic)}/messages/{name}"}

    def _reply(self, topic: str, codec: Codec[Any]) -> dict[str, Any]:
        channel_id = _id(f"{topic}.reply")
        root, definitions = codec.schema(_REF)
        self.schemas.update(definitions)
        name = _id(f"{codec.name}.reply")
        self.messages[name] = {
            "name": name,
            "contentType": "application/json",
            "headers": _REPLY_HEADERS,
            "payload": root,
        }
        self.channels[channel_id] = {
            "address": None,  # each requester's own inbox
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "title": f"replies to {topic}",
        }
        return {
            "address": {"location": f"$message.header#/{REPLY_TO}"},
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }


def _id(text: str) -> str:
    """An id AsyncAPI accepts as a key (letters, digits, '_', '.', '-')."""
    return _ID_CHARS.sub("_", text)
