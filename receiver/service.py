"""Receiver gRPC servicer: negotiate, accept received symbols, decode in a worker, publish results."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass

import grpc
import numpy as np
import torch
from PIL import Image

from receiver.model import Receiver
from receiver.results import ResultHub, ResultStore
from shared.classes import colourise
from shared.imageio import encode_png, to_pil
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.observability import Metrics
from shared.service import Loading
from shared.task_kb import TASKS, TaskKB, TaskNotUnderstood
from shared.wire import SymbolAssembler, WireError, header_symbols, spec_from_proto

log = logging.getLogger("semcom.receiver")
POLL_S = 0.25


@dataclass
class Job:
    header: pb.TransmissionHeader
    y: torch.Tensor  # (n,) complex
    h: torch.Tensor | None
    noise_var: float
    realised_snr_db: float
    accepted: float  # perf_counter when queued


class ReceiverService(Loading, rpc.ReceiverServicer):
    service_name = "receiver"

    def __init__(self, queue_depth: int = 16, keep: int = 256, subscriber_depth: int = 64,
                 metrics: Metrics | None = None, results_dir: str | None = None) -> None:
        self.metrics = metrics or Metrics("receiver")
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
        try:
            m = self.kb.match(request.task)
        except TaskNotUnderstood as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.NegotiateReply(task=m.task, score=m.score, kb_fingerprint=self.kb.fingerprint)

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
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message of Deliver must be the header")
        header = first.header
        try:
            self._check_header(header)
            n = header_symbols(header)
            spec = spec_from_proto(header.channel).validate()
            y = SymbolAssembler(n, "y")
            h = SymbolAssembler(n, "h") if spec.csi else None
            for msg in request_iterator:
                part = msg.WhichOneof("part")
                if part == "y":
                    y.add(msg.y)
                elif part == "h" and h is not None:
                    h.add(msg.h)
                else:
                    raise WireError(f"unexpected {part} message after the header")
            job = Job(header, y.tensor(), h.tensor() if h is not None else None, first.noise_var,
                      first.realised_snr_db, time.perf_counter())
        except (ValueError, WireError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            self.jobs.put_nowait(job)
            self.metrics.queue_depth.labels("receiver").set(self.jobs.qsize())
        except queue.Full:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"receiver decoding queue is full ({self.jobs.maxsize} transmissions); retry later")
        return pb.DeliverReply(queue_position=self.jobs.qsize())

    def _check_header(self, header: pb.TransmissionHeader) -> None:
        if header.task not in TASKS:
            raise ValueError(f"unknown task {header.task!r}; known tasks: {', '.join(TASKS)}")
        if header.kb_fingerprint != self.kb.fingerprint:
            raise ValueError(f"task KBs differ: transmitter {header.kb_fingerprint}, receiver {self.kb.fingerprint}")
        cfg = self.model.cfg
        cfg.check_image_size(header.image_height, header.image_width)  # before anything sized by the header
        cfg.check_steps(header.diffusion_steps)
        c, s = cfg.encoder.symbol_channels, cfg.encoder.stride
        if header.grid_c != c:
            raise ValueError(f"transmitter sends {header.grid_c} symbol channels, this receiver's model expects {c} "
                             f"(CBR {cfg.encoder.cbr}): load the same weights on both sides")
        if (header.grid_h, header.grid_w) != (-(-header.image_height // s), -(-header.image_width // s)):
            raise ValueError("symbol grid does not match the image size")
        if not transmission_id_ok(header.transmission_id):
            raise ValueError("transmission id must be 1-64 characters of [A-Za-z0-9_.-]")
        if cfg.encoder.linear_path and not (math.isfinite(header.power_scale) and header.power_scale > 0):
            raise ValueError(f"power scale {header.power_scale} is not a positive number: this receiver's model "
                             "inverts the transmitter's linear code and needs it (load the same weights on both sides)")

    def Subscribe(self, request, context):
        self.accepting(context)
        sub = self.hub.subscribe(request.after_sequence, request.epoch)
        context.add_callback(lambda: self.hub.unsubscribe(sub))
        self.metrics.subscribers.labels("receiver").set(self.hub.subscriber_count())
        try:
            while context.is_active():
                try:
                    seq, result = sub.queue.get(timeout=POLL_S)
                except queue.Empty:
                    if sub.overflowed:
                        self.metrics.dropped.labels("receiver").inc()
                        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                      f"subscriber too slow: its queue of {self.hub.queue_depth} results overflowed; "
                                      f"resubscribe with after_sequence={sub.last_sequence} epoch={self.hub.epoch}")
                    if self.finished.is_set() and sub.queue.empty():
                        return  # shutting down and everything decoded was handed over
                    continue
                sub.last_sequence = seq
                yield result
        finally:
            self.hub.unsubscribe(sub)
            self.metrics.subscribers.labels("receiver").set(self.hub.subscriber_count())

    def GetResult(self, request, context):
        self.ready(context)
        tid = request.transmission_id
        deadline = context.time_remaining()
        end = time.monotonic() + (deadline if deadline is not None else 600.0)
        while context.is_active():
            result = self.hub.wait(tid, timeout=min(POLL_S * 4, max(0.0, end - time.monotonic())))
            if result is not None:
                return result
            if time.monotonic() >= end:
                break
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no result for transmission {tid!r} yet")

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
                except Exception as exc:  # a bad transmission must not kill the decoder
                    log.exception("decoding %s failed", job.header.transmission_id)
                    error = f"decoding failed: {exc}"
                    self.hub.publish(job.header.transmission_id, lambda seq: pb.Result(
                        transmission_id=job.header.transmission_id, sequence=seq, epoch=self.hub.epoch,
                        task=job.header.task, error=error))
                finally:
                    self.jobs.task_done()
                    self.metrics.queue_depth.labels("receiver").set(self.jobs.qsize())
        finally:
            self.finished.set()

    def _decode(self, job: Job) -> None:
        hd = job.header
        timings = dict(hd.timings_s)
        timings["rx_queue"] = time.perf_counter() - job.accepted
        spec = spec_from_proto(hd.channel)
        grid = (hd.grid_c, hd.grid_h, hd.grid_w)
        size = (hd.image_height, hd.image_width)
        t = time.perf_counter()
        with torch.no_grad():
            out = self.model.receive(job.y[None].to(self.device), None if job.h is None else job.h[None].to(self.device),
                                     torch.tensor([job.noise_var], device=self.device), spec, grid, size, hd.task,
                                     hd.channel.seed, hd.diffusion_steps or None,
                                     scale=torch.tensor([hd.power_scale], device=self.device))
        timings["decode"] = time.perf_counter() - t
        cfg = self.model.cfg
        fields = dict(task=hd.task, score=hd.score, channel=hd.channel, realised_snr_db=job.realised_snr_db,
                      channel_uses=hd.grid_c * hd.grid_h * hd.grid_w,
                      cbr=hd.grid_c * hd.grid_h * hd.grid_w / (size[0] * size[1] * 3),
                      height=size[0], width=size[1])
        t = time.perf_counter()
        if hd.task == "reconstruction":
            fields.update(image_png=encode_png(to_pil(out[0])),
                          diffusion_steps=hd.diffusion_steps or cfg.diffusion.sample_steps)
        else:
            labels = out[0].cpu().numpy().astype(np.uint8)  # (H, W) class indices
            fields.update(labels_png=encode_png(Image.fromarray(labels, mode="L")),
                          colour_png=encode_png(Image.fromarray(colourise(labels, cfg.seg.num_classes), mode="RGB")),
                          class_names=list(cfg.seg.class_names))
        timings["rx_encode_png"] = time.perf_counter() - t
        for stage in ("rx_queue", "decode", "rx_encode_png"):
            self.metrics.stage(stage, timings[stage])
        self.hub.publish(hd.transmission_id, lambda seq: pb.Result(
            transmission_id=hd.transmission_id, sequence=seq, epoch=self.hub.epoch, timings_s=timings, **fields))
        log.info("decoded", extra={"transmission_id": hd.transmission_id, "task": hd.task,
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


def transmission_id_ok(tid: str) -> bool:
    return 0 < len(tid) <= 64 and all(ch.isalnum() or ch in "_.-" for ch in tid)


