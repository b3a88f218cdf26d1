"""Calls from one service to the next: one retry when the next was restarting, deadlines that shrink to what the
caller has left, and failures reported naming the service that failed."""

from __future__ import annotations

import grpc


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
