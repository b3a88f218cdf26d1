"""The servers' interceptors: calls in progress (a graceful stop waits for them), per-method caps of open
long-lived calls with idle and minimum-rate cuts, and requests that do not parse answered INVALID_ARGUMENT."""

from __future__ import annotations

import logging
import threading
import time

import grpc

from shared.observability import wrap_handler

log = logging.getLogger("semcom")


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
