"""interlink: how Python microservices talk to each other."""

__all__: list[str] = []
