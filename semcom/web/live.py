"""The receiver's live result stream, shared by every page that listens: one Subscribe upstream, server-sent
events down."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading

import grpc

from semcom.web.requests import WebError, _grpc_error
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc

MAX_LISTENERS = 64  # pages listening to the live stream at once (they share one Subscribe)
KEEPALIVE_S = 5.0  # a comment on the live stream this often: a page that left is noticed by the next write


def _event(r: pb.Result) -> str:
    doc = {"transmission_id": r.transmission_id, "sequence": r.sequence, "task": r.task,
           "snr_db": r.channel.snr_db, "channel": r.channel.model, "params": dict(r.channel.params), "error": r.error,
           "realised_snr_db": round(r.realised_snr_db, 2), "width": r.width, "height": r.height,
           "decode_s": round(r.timings_s.get("decode", 0.0), 4)}
    return f"data: {json.dumps(doc)}\n\n"


class _Listener:
    """One page on the live stream: its own queue, filled from the reader thread through its event loop."""

    def __init__(self, key: int) -> None:
        self.key, self.loop, self.queue = key, asyncio.get_running_loop(), asyncio.Queue(maxsize=256)

    def offer(self, item: tuple[str, str]) -> None:  # on the event loop
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a page that does not read: it is ended, the others go on
            self.queue.get_nowait()
            self.queue.put_nowait(("end", ""))


class LiveStream:
    """The receiver's result stream, shared: one Subscribe upstream however many pages listen (at most
    MAX_LISTENERS), opened by the first page and cancelled when the last one leaves, so pages that come and go
    never hold the receiver's Subscribe slots. A page that went away is noticed at the next write (a keepalive
    comment every KEEPALIVE_S seconds) and leaves."""

    def __init__(self, stub: rpc.ReceiverStub, addr: str = "its address") -> None:
        self.stub, self.addr = stub, addr
        self._lock = threading.Lock()
        self._listeners: dict[int, _Listener] = {}
        self._keys = itertools.count()
        self._call = None

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def join(self) -> _Listener:
        """A new listener (on the running event loop); WebError(429) when MAX_LISTENERS pages listen."""
        with self._lock:
            if len(self._listeners) >= MAX_LISTENERS:
                raise WebError(429, f"RESOURCE_EXHAUSTED: {MAX_LISTENERS} pages are listening to the live stream; "
                                    "close one or try again later")
            listener = _Listener(next(self._keys))
            self._listeners[listener.key] = listener
            if self._call is None:
                self._call = self.stub.Subscribe(pb.SubscribeRequest())
                threading.Thread(target=self._read, args=(self._call,), name="web-live", daemon=True).start()
        return listener

    def leave(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners.pop(listener.key, None)
            call = self._call if not self._listeners else None
            if call is not None:
                self._call = None
        if call is not None:
            call.cancel()

    def close(self) -> None:
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call.cancel()
        self._send(("end", ""))

    def _send(self, item: tuple[str, str]) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                listener.loop.call_soon_threadsafe(listener.offer, item)

    def _read(self, call) -> None:
        """The reader thread of one upstream Subscribe: every result to every listener."""
        try:
            for r in call:
                self._send(("data", _event(r)))
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                with self._lock:
                    current = self._call is call
                    if current:
                        self._call = None
                if current:  # the receiver ended it: the pages hear why, and reconnect
                    message = json.dumps({"error": str(_grpc_error(err, "receiver", self.addr))})
                    self._send(("failure", f"event: failure\ndata: {message}\n\n"))
                    self._send(("end", ""))
                return
        with self._lock:
            current = self._call is call
            if current:
                self._call = None
        if current:
            self._send(("end", ""))

    async def events(self, listener: _Listener):
        """Server-sent events for one page, until it leaves or the upstream stream ends."""
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    kind, text = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if kind == "end":
                    return
                yield text
        finally:
            self.leave(listener)
