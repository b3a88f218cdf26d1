"""What every service does the same way: its flags, the server with health and reflection, the graceful stop.
(Its interceptors: shared/interceptors.py; calls to the next service: shared/downstream.py; logs: shared/logs.py.)

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

from shared.endpoints import DEFAULT_PORTS, MAX_MESSAGE_BYTES, env
from shared.interceptors import ActiveCalls, CallLimits, DecodeGuard
from shared.logs import setup_logging
from shared.observability import Metrics
from shared.rpc import semcom_pb2 as pb
from shared.security import Security, add_security_args
from shared.task_kb import TaskKB

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


def serve(name: str, args: argparse.Namespace, methods: tuple[str, ...], make_service: Callable,
          add_servicer: Callable, load: Callable[[], object] | None = None, drain: bool = False,
          **server_options) -> int:
    """The one boot of the three services, from their parsed flags (``server_args`` + their own):

    logging; the heap kept and the threads set (``shared.devices``); the server built with its security, metrics
    and `server_options` (``build_server``) and answering health NOT_SERVING; ``make_service(security, metrics,
    srv)`` registered by ``add_servicer`` and started; then, with `load`, the models loaded (one line and exit 2
    if they cannot be) and attached with a task KB; SERVING until SIGTERM, then draining (``run_until_signal``;
    `drain`: the service's own ``drain`` finishes its queued work first)."""
    setup_logging(args.log_level, name, args.log_format)
    from shared.devices import keep_heap, set_threads  # loads torch, which the flags (--help) must not wait for

    keep_heap()
    set_threads(args.threads)
    security, metrics = Security.from_args(args), Metrics(name)
    srv = build_server(args.host, args.port, args.workers, methods, security=security, metrics=metrics,
                       **server_options)
    service = make_service(security, metrics, srv)
    service.draining = srv.draining
    add_servicer(service, srv.server)
    metrics.serve(args.metrics_port, args.host)
    srv.server.start()
    if load is not None:
        model = load_models_or_exit(name, srv, load)
        service.attach(model, TaskKB())
    return run_until_signal(srv, args.grace, on_stop=service.drain if drain else None)


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
