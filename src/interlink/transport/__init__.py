"""Transports: how a call physically reaches another process."""
