import interlink
import interlink.broker
import interlink.discovery
import interlink.saga
import interlink.testing


def test_public_api_is_pinned() -> None:
    assert interlink.__all__ == [
        "App",
        "ApplicationError",
        "Backoff",
        "Bulkhead",
        "BulkheadFull",
        "CallError",
        "CallNotPermitted",
        "Choreography",
        "CircuitBreaker",
        "CodecError",
        "ConfigurationError",
        "Context",
        "Database",
        "DeadlineExceeded",
        "Dedupe",
        "DefinitionError",
        "Envelope",
        "Fallback",
        "Hedge",
        "HttpTimeouts",
        "IllegalStateTransition",
        "InterlinkError",
        "InvalidRequest",
        "MethodNotFound",
        "Observe",
        "Policy",
        "PublishError",
        "RemoteError",
        "Retry",
        "Route",
        "Rpc",
        "Saga",
        "Service",
        "ServiceUnavailable",
        "StepContext",
        "StepRetry",
        "Subscriber",
        "Timeout",
        "Tls",
        "ValidationFailed",
        "__version__",
    ]


def test_every_exported_name_exists_and_all_is_sorted() -> None:
    modules = (interlink, interlink.broker, interlink.discovery, interlink.saga, interlink.testing)
    for module in modules:
        names = [n for n in module.__all__ if n != "__version__"]
        assert names == sorted(names), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_every_error_has_one_root() -> None:
    errors = [getattr(interlink, n) for n in interlink.__all__ if n.endswith(("Error", "Exceeded"))]
    for error in errors:
        assert issubclass(error, interlink.InterlinkError), error
    assert issubclass(interlink.DeadlineExceeded, TimeoutError)
