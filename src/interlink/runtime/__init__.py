"""The composition root: builds a running App's parts in order and tears them down in reverse."""

from interlink.runtime._runtime import Runtime

__all__ = ["Runtime"]
