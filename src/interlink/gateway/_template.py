"""Path templates: ``/orders/{order_id}`` matches one segment per ``{name}``; ``{name:path}``
matches the rest of the path, slashes included (a prefix route). Rewrites fill a template
with the captured values."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["Template"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")


class Template:
    __slots__ = ("_parts", "_regex", "names", "text")

    def __init__(self, text: str) -> None:
        if not text.startswith("/"):
            raise ValueError(f"a path template starts with '/', not {text!r}")
        self.text = text
        self.names: list[str] = []
        pattern, last = [], 0
        self._parts: list[tuple[str, str]] = []
        """``(literal, name)`` pairs to fill, the last name empty: built once, not per request."""
        for found in _PARAM.finditer(text):
            self._parts.append((text[last : found.start()], found.group(1)))
            pattern.append(re.escape(text[last : found.start()]))
            name = found.group(1)
            if name in self.names:
                raise ValueError(f"{text!r} names {{{name}}} twice")
            self.names.append(name)
            pattern.append(f"(?P<{name}>.*)" if found.group(2) else f"(?P<{name}>[^/]+)")
            last = found.end()
        self._parts.append((text[last:], ""))
        pattern.append(re.escape(text[last:]))
        self._regex = re.compile("".join(pattern) + r"\Z")

    def match(self, path: str) -> dict[str, str] | None:
        found = self._regex.match(path)
        return None if found is None else found.groupdict()

    def fill(self, values: Mapping[str, str]) -> str:
        """The template with each ``{name}`` (or ``{name:path}``) replaced by its value."""
        return "".join(
            [literal + values[name] if name else literal for literal, name in self._parts]
        )
