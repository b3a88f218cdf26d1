"""Receiver gRPC servicer: negotiate, accept received symbols, decode in a worker, publish results."""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass

import grpc
import torch

from receiver import step
from receiver.model import Receiver
from receiver.results import ResultHub, ResultStore, StoreFailed
from shared.devices import pick_device
from shared.errors import abort
from shared.ids import ID_RULE, id_ok
from shared.observability import Metrics
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.service import Loading, serve
from shared.task_kb import TaskKB, TaskNotUnderstood
from shared.transmission import Transmission
from shared.weights import load_side
from shared.wire import SymbolAssembler, WireError, opening, transmission_of

log = logging.getLogger("semcom.receiver")
POLL_S = 0.25


MAX_NOISE_VAR = 1e4  # 40 dB below the lowest SNR the services take: more is no channel, only noise


def check_channel_state(h: torch.Tensor | None, noise_var: float, realised_snr_db: float) -> None:
    """What the channel reports must be numbers a decoder can use: WireError otherwise."""
    if not (math.isfinite(noise_var) and noise_var >= 0):
        raise WireError(f"noise variance {noise_var} is not a non-negative number")
    if noise_var > MAX_NOISE_VAR:
        raise WireError(f"noise variance {noise_var:g} is over {MAX_NOISE_VAR:g} (an SNR below -40 dB for a "
                        "unit-power transmission): no decoder gets anything from it")
    if not math.isfinite(realised_snr_db):
        raise WireError(f"realised SNR {realised_snr_db} dB is not a finite number")
    if h is not None and noise_var == 0 and bool((h == 0).any()):
        raise WireError("channel gains h of 0 with no noise leave symbols undefined (0/0) after equalisation")


@dataclass
class Job:
    sent: Transmission
    header: pb.TransmissionHeader  # as it arrived (its channel settings go back in the result)
    y: torch.Tensor  # (n,) complex
    h: torch.Tensor | None
    noise_var: float
    realised_snr_db: float
    accepted: float  # perf_counter when queued


class ReceiverService(Loading, rpc.ReceiverServicer):
    service_name = "receiver"

    def __init__(self, queue_depth: int = 16, keep: int = 256, subscriber_depth: int = 64,
                 metrics: Metrics | None = None, results_dir: str | None = None, max_waits: int = 32,
                 stall_s: float = 30.0) -> None:
        self.metrics = metrics or Metrics("receiver")
        # GetResult: `max_waits` waits shared by every caller, plus one of its own per transmission accepted and not
        # yet published (the sender's wait for its result), so strangers' waits never starve a sender
        self.max_waits = max_waits
        self._shared_waits = 0
        self._own_waits: set[str] = set()
        self._pending: collections.Counter[str] = collections.Counter()  # accepted, not yet published
        self.stall_s = stall_s  # a subscriber that takes no result for this long is cut
        self.jobs: queue.Queue[Job] = queue.Queue(maxsize=queue_depth)
        store = ResultStore(results_dir, keep, pb.Result.SerializeToString, pb.Result.FromString) \
            if results_dir else None
        self.hub: ResultHub[pb.Result] = ResultHub(keep=keep, queue_depth=subscriber_depth, store=store)
        self.stopping = threading.Event()  # drain(): take no more, finish what was accepted
        self.finished = threading.Event()  # the decoder has published everything it accepted
        self._delivering = 0  # Deliver calls past the acceptance check, still reading their stream
        self._lock = threading.Lock()
        self.worker = threading.Thread(target=self._work, name="decoder", daemon=True)

    def attach(self, model: Receiver, kb: TaskKB) -> None:
        self.model, self.kb = model, kb
        self.device = next(model.parameters()).device
        self.worker.start()
        self.mark_ready()

    # ------------------------------------------------------------------ RPCs

    def Negotiate(self, request, context):
        self.accepting(context)
        if request.transmission_id:
            if not id_ok(request.transmission_id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"transmission id: an id is {ID_RULE}")
            with self._lock:
                taken = self._in_use(request.transmission_id)
            if taken:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, taken)
        try:
            m = self.kb.match(request.task)
        except TaskNotUnderstood as exc:
            abort(context, exc)
        return pb.NegotiateReply(task=m.task, score=m.score, kb_fingerprint=self.kb.fingerprint)

    def _in_use(self, tid: str) -> str | None:
        """Why `tid` cannot name a new transmission (a result under it would be mistaken for the old one's), or
        None. Called under the lock."""
        if self._pending[tid] > 0:
            return (f"transmission id {tid!r} is in use: a transmission with it is being received or decoded; "
                    "choose another id, or leave it out for a fresh one")
        if self.hub.get(tid) is not None:
            return (f"transmission id {tid!r} is in use: this receiver keeps its result (GetResult or `txclient "
                    "watch` fetch it); choose another id, or leave it out for a fresh one")
        return None

    def Deliver(self, request_iterator, context):
        with self._lock:
            self.accepting(context)
            if self.stopping.is_set():
                context.abort(grpc.StatusCode.UNAVAILABLE, "receiver is shutting down and takes no new work")
            self._delivering += 1
        try:
            return self._deliver(request_iterator, context)
        finally:
            with self._lock:
                self._delivering -= 1

    def _deliver(self, request_iterator, context):
        first = opening(request_iterator, context, "Deliver")
        header = first.header
        try:
            sent = transmission_of(header)
            step.check(sent, self.model, self.kb.fingerprint)  # before anything is sized by the header
        except ValueError as exc:  # WireError, WorkTooLarge, a check of step.check
            abort(context, exc)
        with self._lock:  # the id is taken from the header on: two transmissions can never share one
            taken = self._in_use(sent.id)
            if not taken:
                self._pending[sent.id] += 1
        if taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, taken)
        queued = False
        try:
            queued = self._receive(first, sent, request_iterator, context)
        finally:
            if not queued:
                self._settled(sent.id)
        return pb.DeliverReply(queue_position=self.jobs.qsize())

    def _receive(self, first, sent: Transmission, request_iterator, context) -> bool:
        """Reads the symbols after the header and queues the job; True once it is queued (aborts otherwise)."""
        header = first.header
        try:
            y = SymbolAssembler(sent.channel_uses, "y")
            h = SymbolAssembler(sent.channel_uses, "h") if sent.channel.knows_h else None
            for msg in request_iterator:
                part = msg.WhichOneof("part")
                if part == "y":
                    y.add(msg.y)
                elif part == "h" and h is not None:
                    h.add(msg.h)
                else:
                    raise WireError(f"unexpected {part} message after the header")
            y = y.tensor()
            if h is not None and h.filled == 0 and not sent.channel.gains_on_wire:
                h = torch.ones_like(y)  # a channel without fading: h = 1, not sent
            else:
                h = h.tensor() if h is not None else None
            job = Job(sent, header, y, h, first.noise_var, first.realised_snr_db, time.perf_counter())
            check_channel_state(job.h, job.noise_var, job.realised_snr_db)
        except ValueError as exc:  # WireError among them
            abort(context, exc)
        try:  # pending since the header: the decoder may publish it at once
            self.jobs.put_nowait(job)
        except queue.Full:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"receiver decoding queue is full ({self.jobs.maxsize} transmissions); retry later")
        self.metrics.queue_depth.labels("receiver").set(self.jobs.qsize())
        return True

    def Subscribe(self, request, context):
        self.accepting(context)
        sub = self.hub.subscribe(request.after_sequence, request.epoch)
        context.add_callback(lambda: self.hub.unsubscribe(sub))
        self.metrics.subscribers.labels("receiver").set(self.hub.subscriber_count())
        try:
            while context.is_active():
                try:
                    seq, result = sub.next(timeout=POLL_S)
                except queue.Empty:
                    if sub.overflowed:
                        self.metrics.dropped.labels("receiver").inc()
                        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                      f"subscriber too slow: its queue of {self.hub.queue_depth} results overflowed; "
                                      f"resubscribe with after_sequence={sub.last_sequence} epoch={self.hub.epoch}")
                    if self.finished.is_set() and sub.empty():
                        return  # shutting down and everything decoded was handed over
                    continue
                sub.last_sequence = seq
                stalled = threading.Timer(self.stall_s, self._cut_stalled, args=(context, sub))
                stalled.daemon = True
                stalled.start()  # a reader that takes nothing (its client gone quiet) must not keep its slot
                try:
                    yield result
                finally:
                    stalled.cancel()
        finally:
            self.hub.unsubscribe(sub)
            self.metrics.subscribers.labels("receiver").set(self.hub.subscriber_count())

    def _cut_stalled(self, context, sub) -> None:
        log.warning("cutting a subscriber that took no result for %.0f s (%s)", self.stall_s, context.peer())
        self.metrics.dropped.labels("receiver").inc()
        self.hub.unsubscribe(sub)
        context.cancel()

    def GetResult(self, request, context):
        self.ready(context)
        tid = request.transmission_id
        if not id_ok(tid):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no such transmission: an id is {ID_RULE}")
        result = self.hub.get(tid)
        if result is not None:  # no wait, no slot
            return result
        with self._lock:
            pending = self._pending[tid] > 0
            if request.accepted and not pending:
                result = self.hub.get(tid)  # published since the first look (publishing precedes settling)
                if result is None:
                    context.abort(grpc.StatusCode.NOT_FOUND,
                                  f"this receiver holds neither transmission {tid!r} nor its result: it was lost in a "
                                  f"restart (undecoded work is kept in memory only), or its result is older than "
                                  f"the last {self.hub.keep} kept; send it again")
                return result
            if pending and tid not in self._own_waits:
                slot = "own"
                self._own_waits.add(tid)
            elif self._shared_waits < self.max_waits:
                slot = "shared"
                self._shared_waits += 1
            else:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"receiver has {self.max_waits} GetResult calls open, its cap; retry later or close idle "
                              "ones (a sender's wait for its own accepted transmission always has a slot)")
        try:
            deadline = context.time_remaining()
            end = time.monotonic() + (deadline if deadline is not None else 600.0)
            while context.is_active():
                result = self.hub.wait(tid, timeout=min(POLL_S * 4, max(0.0, end - time.monotonic())))
                if result is not None:
                    return result
                if time.monotonic() >= end:
                    break
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no result for transmission {tid!r} yet")
        finally:
            with self._lock:
                if slot == "own":
                    self._own_waits.discard(tid)
                else:
                    self._shared_waits -= 1

    def _settled(self, tid: str) -> None:
        """`tid` was published (or never queued): it is no longer pending."""
        with self._lock:
            self._pending[tid] -= 1
            if self._pending[tid] <= 0:
                del self._pending[tid]

    # ------------------------------------------------------------------ decoding

    def _work(self) -> None:
        try:
            while True:
                try:
                    job = self.jobs.get(timeout=POLL_S)
                except queue.Empty:
                    with self._lock:
                        if self.stopping.is_set() and self._delivering == 0 and self.jobs.empty():
                            return  # draining and nothing more can arrive
                    continue
                try:
                    self._decode(job)
                except StoreFailed as exc:  # published, not persisted: readers have it, the disk does not
                    self.mark_broken(str(exc))
                except Exception as exc:  # a bad transmission must not kill the decoder
                    log.exception("decoding %s failed", job.sent.id)
                    self._publish_error(job, f"decoding failed: {exc}")
                finally:
                    self._settled(job.sent.id)
                    self.jobs.task_done()
                    self.metrics.queue_depth.labels("receiver").set(self.jobs.qsize())
        except Exception as exc:  # the decoder itself stopped: say so everywhere, never silently
            log.exception("the decoder thread stopped")
            self.mark_broken(f"its decoder stopped ({type(exc).__name__}: {exc}); "
                             f"{self.jobs.qsize()} accepted transmission(s) not decoded")
        finally:
            self.finished.set()

    def _publish_error(self, job: Job, error: str) -> None:
        try:
            self.hub.publish(job.sent.id, lambda seq: pb.Result(
                transmission_id=job.sent.id, sequence=seq, epoch=self.hub.epoch, task=job.sent.task, error=error))
        except StoreFailed as exc:
            self.mark_broken(str(exc))

    def _decode(self, job: Job) -> None:
        sent = job.sent
        timings = dict(job.header.timings_s)
        timings["rx_queue"] = time.perf_counter() - job.accepted
        t = time.perf_counter()
        out = step.decode(self.model, sent, job.y, job.h, job.noise_var)
        timings["decode"] = time.perf_counter() - t
        t = time.perf_counter()
        fields = step.render(out, sent, self.model)
        timings["rx_encode_png"] = time.perf_counter() - t
        for stage in ("rx_queue", "decode", "rx_encode_png"):
            self.metrics.stage(stage, timings[stage])
        self.hub.publish(sent.id, lambda seq: pb.Result(
            transmission_id=sent.id, sequence=seq, epoch=self.hub.epoch, timings_s=timings, task=sent.task,
            score=sent.score, channel=job.header.channel, realised_snr_db=job.realised_snr_db,
            channel_uses=sent.channel_uses, cbr=sent.cbr, pilot_uses=sent.pilot_uses, height=sent.image_size[0], width=sent.image_size[1],
            **fields))
        log.info("decoded", extra={"transmission_id": sent.id, "task": sent.task,
                                   "decode_s": round(timings["decode"], 4)})

    def drain(self, timeout: float) -> None:
        """Graceful stop: accept nothing new, decode and publish everything accepted (within `timeout`)."""
        self.stopping.set()
        if self.worker.is_alive():
            self.worker.join(timeout)
        else:
            self.finished.set()
        if not self.finished.is_set():
            log.warning("grace period over with %d transmission(s) still queued", self.jobs.qsize())


def run(args) -> int:
    """Serves what ``python -m receiver``'s flags say (``shared.service.serve``)."""
    def make_service(security, metrics, srv):
        service = ReceiverService(args.queue_depth, args.keep, args.subscriber_depth, metrics, args.results_dir,
                                  max_waits=args.max_streams, stall_s=args.idle_timeout)
        service.on_broken = lambda: srv.set_serving(False)
        return service

    return serve("receiver", args, ("Receiver",), make_service, rpc.add_ReceiverServicer_to_server,
                 load=lambda: load_side(Receiver, "receiver", args.preset, args.weights, pick_device(args.device)),
                 drain=True, limits={m: args.max_streams for m in ("Deliver", "Subscribe")},
                 idle_s=args.idle_timeout, min_rate_kib_s=args.min_rate,
                 own_threads=args.max_streams + args.queue_depth + 2)  # GetResult: shared waits + senders'
