"""What every service does the same way: server options, health, reflection, graceful stop, deadlines.

Servicers stay thin: they translate between protobuf and the plain Python of their
side, and map errors to gRPC status codes with a message a person can act on.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from shared.endpoints import DEFAULT_PORTS, MAX_MESSAGE_BYTES, MiB, client_channel, default_addr, env  # noqa: F401
from shared.observability import wrap_handler
from shared.rpc import semcom_pb2 as pb
from shared.security import Security, add_security_args

DEFAULT_DEADLINE_S = 120.0

log = logging.getLogger("semcom")


def server_args(service: str, description: str) -> argparse.ArgumentParser:
    """Flags every service takes; each defaults to a SEMCOM_* environment variable."""
    p = argparse.ArgumentParser(prog=f"python -m {service}", description=description)
    p.add_argument("--host", default=env("HOST", "127.0.0.1"), help="address to bind (SEMCOM_HOST)")
    p.add_argument("--port", type=int, default=env(f"{service.upper()}_PORT", DEFAULT_PORTS[service]),
                   help=f"port (SEMCOM_{service.upper()}_PORT, default {DEFAULT_PORTS[service]})")
    p.add_argument("--workers", type=int, default=env("WORKERS", 16),
                   help="RPC threads for short calls and health (SEMCOM_WORKERS); long-lived calls have their own")
    p.add_argument("--max-streams", type=int, default=env("MAX_STREAMS", 32),
                   help="open calls allowed per long-lived method (Transmit; Deliver, Subscribe, GetResult); "
                        "RESOURCE_EXHAUSTED beyond (SEMCOM_MAX_STREAMS)")
    p.add_argument("--idle-timeout", type=float, default=env("IDLE_TIMEOUT_S", 30.0),
                   help="seconds a client stream (Transmit, Deliver) may stay silent, and a Subscribe reader may take "
                        "no result, before the call is cancelled (SEMCOM_IDLE_TIMEOUT_S)")
    p.add_argument("--min-rate", type=float, default=env("MIN_RATE_KIB_S", 256.0),
                   help="KiB per second a client stream (Transmit, Deliver) must average once --idle-timeout "
                        "seconds have passed, or it is cancelled: a stream that trickles is never silent "
                        "(SEMCOM_MIN_RATE_KIB_S; 0 = no minimum)")
    p.add_argument("--grace", type=float, default=env("GRACE_S", 30.0),
                   help="seconds in-flight work may take after SIGTERM (SEMCOM_GRACE_S)")
    p.add_argument("--deadline", type=float, default=env("DEADLINE_S", DEFAULT_DEADLINE_S),
                   help="deadline of outgoing calls in seconds (SEMCOM_DEADLINE_S)")
    p.add_argument("--threads", type=int, default=env("THREADS", 0),
                   help="torch threads for this service's tensor work, 0 = one per core (SEMCOM_THREADS); "
                        "services sharing a few cores each take fewer")
    p.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"))
    p.add_argument("--log-format", choices=["text", "json"], default=env("LOG_FORMAT", "text"),
                   help="text, or one JSON object per line (SEMCOM_LOG_FORMAT)")
    p.add_argument("--metrics-port", type=int, default=env(f"{service.upper()}_METRICS_PORT", 0),
                   help=f"serve Prometheus metrics over HTTP on this port, 0 = off (SEMCOM_{service.upper()}_METRICS_PORT)")
    add_security_args(p, env)
    return p


def model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=env("DEVICE", "auto"), help="cpu, cuda, cuda:N or auto (SEMCOM_DEVICE)")
    p.add_argument("--preset", default=env("PRESET", "cpu"), help="model preset (SEMCOM_PRESET)")
    p.add_argument("--weights", default=env("WEIGHTS", "default"),
                   help="checkpoint directory, 'default' (shipped weights of the preset) or 'none' (SEMCOM_WEIGHTS)")


class ActiveCalls(grpc.ServerInterceptor):
    """Counts the RPCs in progress (health and reflection excepted), so a stop can wait for them."""

    def __init__(self) -> None:
        self._n = 0
        self._cond = threading.Condition()

    @property
    def count(self) -> int:
        return self._n

    def _add(self, d: int) -> None:
        with self._cond:
            self._n += d
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._n == 0, timeout=max(0.0, timeout))

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith("/grpc."):
            return handler

        def unary(behavior):
            def wrapped(request, context):
                self._add(1)
                try:
                    return behavior(request, context)
                finally:
                    self._add(-1)
            return wrapped

        def streaming(behavior):
            def wrapped(request, context):
                self._add(1)
                try:
                    yield from behavior(request, context)
                finally:
                    self._add(-1)
            return wrapped

        return wrap_handler(handler, unary, streaming)


@dataclass
class Server:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    names: tuple[str, ...]
    active: ActiveCalls
    draining: threading.Event

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.names):
            self.health.set(name, status)


class _IdleGuard:
    """A client stream's messages; the call is cancelled when the client stays silent for `idle_s` seconds
    (a header and then nothing must not hold a thread for ever), or when it trickles: after `idle_s` seconds of
    slack, the stream must keep up an average of `min_rate` bytes per second (a stream that sends one symbol
    every few seconds is never silent, and would hold its slot for as long as it likes)."""

    def __init__(self, messages, context, idle_s: float, min_rate: float = 0.0) -> None:
        self.messages, self.context, self.idle_s, self.min_rate = messages, context, idle_s, min_rate
        self.started = time.monotonic()
        self.received = 0  # bytes of the messages so far
        self.timer: threading.Timer | None = None
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        wait, why = self.idle_s, f"silent for {self.idle_s:.0f} s"
        if self.min_rate > 0:  # the time this many bytes may have taken at the minimum rate, after the slack
            allowed = self.started + self.idle_s + self.received / self.min_rate - time.monotonic()
            if allowed < wait:
                wait, why = max(0.0, allowed), (f"slower than {self.min_rate / 1024:.0f} KiB/s "
                                                f"({self.received} bytes in {time.monotonic() - self.started + wait:.0f} s)")
        self.timer = threading.Timer(wait, self._expire, args=(why,))
        self.timer.daemon = True
        self.timer.start()

    def _expire(self, why: str) -> None:
        log.warning("cancelling a client stream %s (%s)", why, self.context.peer())
        self.context.cancel()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def __iter__(self):
        return self

    def __next__(self):
        try:
            item = next(self.messages)
        except BaseException:
            self.close()
            raise
        self.received += item.ByteSize() if hasattr(item, "ByteSize") else 0
        self._arm()
        return item


class CallLimits(grpc.ServerInterceptor):
    """At most `limits[method]` calls of each long-lived method open at once (RESOURCE_EXHAUSTED beyond), on
    threads of their own (``build_server`` adds them to the pool), so that health, negotiation and short calls
    always find a thread; client streams that go silent for `idle_s` seconds are cancelled."""

    def __init__(self, service: str, limits: dict[str, int], idle_s: float | None, min_rate: float = 0.0) -> None:
        self.service, self.idle_s, self.min_rate = service, idle_s, min_rate
        self.limits = {m: (n, threading.BoundedSemaphore(n)) for m, n in limits.items()}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method.rsplit("/", 1)[-1]
        if handler is None or method not in self.limits:
            return handler
        cap, slots = self.limits[method]
        idle_s = self.idle_s if (handler.stream_unary or handler.stream_stream) else None
        message = (f"{self.service} has {cap} {method} calls open, its cap; "
                   "retry later or close idle ones")

        def enter(request, context):
            if not slots.acquire(blocking=False):
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
            return _IdleGuard(request, context, idle_s, self.min_rate) if idle_s else request

        def leave(request) -> None:
            slots.release()
            if isinstance(request, _IdleGuard):
                request.close()

        def unary(behavior):
            def wrapped(request, context):
                request = enter(request, context)
                try:
                    return behavior(request, context)
                finally:
                    leave(request)
            return wrapped

        def streaming(behavior):
            def wrapped(request, context):
                request = enter(request, context)
                try:
                    yield from behavior(request, context)
                finally:
                    leave(request)
            return wrapped

        return wrap_handler(handler, unary, streaming)


class Undecodable:
    """What a request that does not parse as its message becomes, so that its call is answered INVALID_ARGUMENT
    (gRPC's own answer is INTERNAL "Exception deserializing request!", with a traceback in the log)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class DecodeGuard(grpc.ServerInterceptor):
    """Parses every request itself: a message that is not one (a string field that is not UTF-8, a truncated
    field) is refused with INVALID_ARGUMENT and a line a person can act on, never a trace."""

    @staticmethod
    def _parse(deserializer, message_name: str):
        def parse(data: bytes):
            try:
                return deserializer(data)
            except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and its kin: the bytes are the caller's
                return Undecodable(f"the request is not a valid {message_name} message ({type(exc).__name__}: "
                                   f"{exc}); every string field must be UTF-8")
        return parse

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        name = handler_call_details.method.rsplit("/", 1)[-1] + "Request"
        deserializer = self._parse(handler.request_deserializer, name)

        def refuse(context, bad: Undecodable):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad.reason)

        def checked(requests, context):
            for r in requests:
                if isinstance(r, Undecodable):
                    refuse(context, r)
                yield r

        def wrap(behavior, streaming_in: bool, streaming_out: bool):
            if streaming_out:
                def wrapped(request, context):
                    if not streaming_in and isinstance(request, Undecodable):
                        refuse(context, request)
                    yield from behavior(checked(request, context) if streaming_in else request, context)
            else:
                def wrapped(request, context):
                    if not streaming_in and isinstance(request, Undecodable):
                        refuse(context, request)
                    return behavior(checked(request, context) if streaming_in else request, context)
            return wrapped

        kinds = {(False, False): (grpc.unary_unary_rpc_method_handler, handler.unary_unary),
                 (True, False): (grpc.stream_unary_rpc_method_handler, handler.stream_unary),
                 (False, True): (grpc.unary_stream_rpc_method_handler, handler.unary_stream),
                 (True, True): (grpc.stream_stream_rpc_method_handler, handler.stream_stream)}
        make, behavior = kinds[(handler.request_streaming, handler.response_streaming)]
        return make(wrap(behavior, handler.request_streaming, handler.response_streaming), deserializer,
                    handler.response_serializer)


def _can_bind(host: str, port: int) -> bool:
    """Whether host:port can be listened on now (asked before gRPC, whose own failure is a multi-line log)."""
    if port == 0:
        return True
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
            probe.bind(addr)
        return True
    except OSError:
        return False


def build_server(host: str, port: int, workers: int, service_names: tuple[str, ...],
                 max_receive_bytes: int = MAX_MESSAGE_BYTES, security: Security = Security(),
                 metrics=None, limits: dict[str, int] | None = None, idle_s: float | None = None,
                 min_rate_kib_s: float = 0.0, own_threads: int = 0) -> Server:
    """A server with health (NOT_SERVING until the caller says otherwise), reflection, and optional
    TLS / mutual TLS and token authentication (``shared.security``).

    `workers` threads serve short calls; each long-lived method in `limits` (method name -> cap) gets its cap
    in threads on top, so a full set of long-lived calls never starves health or the short calls; `own_threads`
    more for long-lived calls whose servicer caps them itself (the receiver's GetResult). Keepalive pings find
    peers whose connection is gone without a word (a closed laptop, a dropped route), so their calls end."""
    active = ActiveCalls()
    limits = limits or {}
    limiter = [CallLimits(service_names[0].lower(), limits, idle_s, min_rate_kib_s * 1024)] if limits else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers + sum(limits.values()) + own_threads),
        interceptors=[DecodeGuard()] + security.interceptors() + ([metrics.interceptor()] if metrics is not None else [])
        + [active] + limiter,
        options=[("grpc.max_receive_message_length", max_receive_bytes),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES * 4),
                 ("grpc.so_reuseport", 0),
                 ("grpc.keepalive_time_ms", 30_000), ("grpc.keepalive_timeout_ms", 10_000),
                 ("grpc.keepalive_permit_without_calls", 1),
                 ("grpc.http2.min_ping_interval_without_data_ms", 10_000)],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    full_names = tuple(pb.DESCRIPTOR.services_by_name[n].full_name for n in service_names)
    reflection.enable_server_reflection((*full_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        bound = security.add_port(server, f"{host}:{port}") if _can_bind(host, port) else 0
    except RuntimeError:  # grpc's "Failed to bind", with a C++ stack in its text
        bound = 0
    if bound == 0:
        print(f"semcom: cannot listen on {host}:{port}: the port is in use or not ours to take; "
              "choose another with --port", file=sys.stderr, flush=True)
        raise SystemExit(2)
    s = Server(server, health_servicer, bound, full_names, active, threading.Event())
    s.set_serving(False)
    return s


def run_until_signal(srv: Server, grace_s: float, on_stop: Callable[[float], None] | None = None) -> int:
    """Says SERVING (the server is started, models loaded); on SIGTERM/SIGINT drains, then exits 0:

    1. health says NOT_SERVING (and keeps answering), ``srv.draining`` is set: servicers refuse
       new work with UNAVAILABLE ("shutting down") while reads of finished work still answer;
    2. ``on_stop(seconds_left)`` finishes the service's own queued work (the receiver's decoder);
    3. in-flight RPCs get what is left of `grace_s` to finish, then the server stops.
    """
    stop = threading.Event()

    def _handler(signum, _frame):
        log.info("signal %s: draining (grace %.0f s)", signal.Signals(signum).name, grace_s)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    srv.set_serving(True)
    log.info("serving on port %d", srv.port)
    stop.wait()
    end = time.monotonic() + grace_s
    srv.set_serving(False)
    srv.draining.set()
    if on_stop is not None:
        on_stop(max(0.1, end - time.monotonic()))
    idle = srv.active.wait_idle(end - time.monotonic())
    if not idle:
        log.warning("grace period over with %d call(s) still in progress: cancelling them", srv.active.count)
    srv.server.stop(1.0).wait(6)
    log.info("stopped")
    return 0


def call_downstream(call, channel: grpc.Channel, context, deadline_s: float, reconnect_wait_s: float = 2.0):
    """`call(timeout)`, and once more if the peer was unreachable but becomes ready within a short wait
    (a restarted service); the deadline left to the caller bounds everything."""
    try:
        return call(remaining(context, deadline_s))
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        try:
            grpc.channel_ready_future(channel).result(timeout=min(reconnect_wait_s, remaining(context, deadline_s)))
        except grpc.FutureTimeoutError:
            raise err from None
        return call(remaining(context, deadline_s))


def remaining(context: grpc.ServicerContext | None, default_s: float) -> float:
    """Deadline for an outgoing call: ours, shortened to what the caller has left (deadline propagation)."""
    if context is None:
        return default_s
    left = context.time_remaining()
    return default_s if left is None else max(0.0, min(default_s, left))


def downstream_error(err: grpc.RpcError, who: str, addr: str) -> tuple[grpc.StatusCode, str]:
    """Maps a failed call to another service to (code, message) naming that service."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return code, f"{who} service at {addr} is unavailable: {details}"
    return code, details or f"{who} service at {addr} failed"


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    """`text`: time service level message key=value...; `json`: one JSON object per line.

    Fields passed as ``extra={...}`` (transmission_id, task, ...) are kept as fields.
    """

    def __init__(self, service: str, fmt: str) -> None:
        super().__init__()
        self.service, self.fmt = service, fmt

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        msg = record.getMessage()
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        if self.fmt == "json":
            import json

            return json.dumps({"ts": ts, "service": self.service, "level": record.levelname, "msg": msg, **fields},
                              default=str)
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if k != "error")
        text = f"{ts} {self.service} {record.levelname} {msg}" + (f" {extra}" if extra else "")
        return text + (f"\n{fields['error']}" if "error" in fields else "")


def setup_logging(level: str, service: str, fmt: str | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter(service, fmt or env("LOG_FORMAT", "text")))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def load_models_or_exit(service: str, srv: Server, load: Callable[[], object]):
    """`load()` the service's models; if the weights are missing, damaged or do not fit, say so in one
    line and exit with status 2 (the server, still NOT_SERVING, is stopped first)."""
    try:
        return load()
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        log.error("%s cannot start: %s", service, exc)
        print(f"{service}: cannot load its models: {exc}", file=sys.stderr, flush=True)
        srv.server.stop(0)
        raise SystemExit(2) from None


class Loading:
    """Mixin for servicers registered before their models load and drained before they stop.

    `ready()` refuses calls until `mark_ready()`; `accepting()` also refuses new work once
    `draining` (the server's, set on SIGTERM) is set. Reads of finished work use `ready()`.
    """

    _ready = False
    service_name = "service"
    draining: threading.Event | None = None
    broken: str | None = None  # why the service can take no more work (its health is NOT_SERVING)
    on_broken: Callable[[], None] | None = None  # set by the server: health -> NOT_SERVING

    def ready(self, context) -> None:
        if not self._ready:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.service_name} is still loading its models")

    def accepting(self, context) -> None:
        self.ready(context)
        if self.broken is not None:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.service_name} takes no new work: {self.broken}; "
                                                       "see its log and restart it")
        if self.draining is not None and self.draining.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          f"{self.service_name} is shutting down and takes no new work; retry when it is back")

    def mark_ready(self) -> None:
        self._ready = True

    def mark_broken(self, reason: str) -> None:
        """Something the service needs failed: log it, refuse new work, health NOT_SERVING (never silent)."""
        if self.broken is None:
            self.broken = reason
            log.error("%s takes no new work: %s", self.service_name, reason)
            if self.on_broken is not None:
                self.on_broken()
