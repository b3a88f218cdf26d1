"""Prometheus metrics for every service, served over HTTP on ``--metrics-port`` (0 = off).

* ``semcom_requests_total{service,method,code}``  RPCs by final gRPC status code
* ``semcom_rpc_seconds{service,method}``          RPC latency
* ``semcom_in_flight{service,method}``            RPCs in progress
* ``semcom_stage_seconds{service,stage}``         time per stage of the chain (encode, channel, decode, ...)
* ``semcom_queue_depth{service}``                 transmissions waiting for decoding
* ``semcom_subscribers{service}``                 open Subscribe streams
* ``semcom_dropped_subscribers_total{service}``   subscribers dropped for being too slow
"""

from __future__ import annotations

import contextlib
import time

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("semcom_requests", "RPCs handled, by final status code",
                                ["service", "method", "code"], registry=r)
        self.rpc_seconds = Histogram("semcom_rpc_seconds", "RPC latency", ["service", "method"],
                                     buckets=STAGE_BUCKETS, registry=r)
        self.in_flight = Gauge("semcom_in_flight", "RPCs in progress", ["service", "method"], registry=r)
        self.stage_seconds = Histogram("semcom_stage_seconds", "Seconds per stage of the chain", ["service", "stage"],
                                       buckets=STAGE_BUCKETS, registry=r)
        self.queue_depth = Gauge("semcom_queue_depth", "Transmissions waiting for decoding", ["service"], registry=r)
        self.subscribers = Gauge("semcom_subscribers", "Open Subscribe streams", ["service"], registry=r)
        self.dropped = Counter("semcom_dropped_subscribers", "Subscribers dropped as too slow", ["service"],
                               registry=r)

    def stage(self, name: str, seconds: float) -> None:
        self.stage_seconds.labels(self.service, name).observe(seconds)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        if port:
            start_http_server(port, addr=host, registry=self.registry)

    def interceptor(self) -> "MetricsInterceptor":
        return MetricsInterceptor(self)


def wrap_handler(handler: grpc.RpcMethodHandler, unary, streaming) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour wrapped: `unary(behavior)` for unary responses,
    `streaming(behavior)` (a generator) for streamed responses."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), handler.request_deserializer,
                                                   handler.response_serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), handler.request_deserializer,
                                                    handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream),
                                                    handler.request_deserializer, handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), handler.request_deserializer,
                                                 handler.response_serializer)


def _code(context) -> str:
    code = context.code() if hasattr(context, "code") else None
    return code.name if isinstance(code, grpc.StatusCode) else "OK"


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts every RPC by its final status code and times it."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def _record(self, method: str, start: float, code: str) -> None:
        self.m.requests.labels(self.m.service, method, code).inc()
        self.m.rpc_seconds.labels(self.m.service, method).observe(time.perf_counter() - start)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith("/grpc."):
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]

        in_flight = self.m.in_flight.labels(self.m.service, method)

        @contextlib.contextmanager
        def observed(context):
            """Counts the call in flight and records its latency and status code (UNKNOWN for an exception that
            set none)."""
            start = time.perf_counter()
            in_flight.inc()
            try:
                yield
            except Exception:
                self._record(method, start, _code(context) if _code(context) != "OK" else "UNKNOWN")
                raise
            else:
                self._record(method, start, _code(context))
            finally:
                in_flight.dec()

        def unary(behavior):
            def wrapped(request, context):
                with observed(context):
                    return behavior(request, context)
            return wrapped

        def streaming(behavior):
            def wrapped(request, context):
                with observed(context):
                    yield from behavior(request, context)
            return wrapped

        return wrap_handler(handler, unary, streaming)
