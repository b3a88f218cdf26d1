"""What a client needs to reach the services: addresses, environment settings, one channel factory.

Kept apart from ``shared.service`` (servers, health, reflection, metrics) so that a client such as
``txclient`` imports gRPC and the stubs and nothing a server needs: its start-up is part of every send.
"""

from __future__ import annotations

import argparse
import os
import socket

import grpc

from shared.security import Security, add_security_args

DEFAULT_PORTS = {"transmitter": 50051, "channel": 50052, "receiver": 50053}
MiB = 1 << 20
MAX_MESSAGE_BYTES = 4 * MiB  # symbol streams are chunked well below this


def env(name: str, default):
    """SEMCOM_<NAME> from the environment, typed like `default`."""
    value = os.environ.get(f"SEMCOM_{name}")
    if value is None:
        return default
    if isinstance(default, bool):
        return value.lower() in {"1", "true", "yes", "on"}
    return type(default)(value) if default is not None else value


def default_addr(service: str) -> str:
    return env(f"{service.upper()}_ADDR", f"localhost:{DEFAULT_PORTS[service]}")


def client_channel(addr: str, security: Security = Security()) -> grpc.Channel:
    """A channel with our message sizes and a short reconnect backoff (a restarted peer is found within ~1 s)."""
    return security.channel(addr, options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES * 4),
                                           ("grpc.max_send_message_length", MAX_MESSAGE_BYTES * 4),
                                           ("grpc.initial_reconnect_backoff_ms", 100),
                                           ("grpc.min_reconnect_backoff_ms", 100),
                                           ("grpc.max_reconnect_backoff_ms", 1000)])


def tls_from_env() -> Security:
    """TLS settings from the SEMCOM_TLS_* variables the services read (no token: health checks need none)."""
    p = argparse.ArgumentParser()
    add_security_args(p, env)
    sec = Security.from_args(p.parse_args([]))
    return Security(sec.cert, sec.key, sec.ca)


def free_ports(n: int) -> list[int]:
    """`n` loopback ports free at this moment (bound together, so distinct, then released)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports
