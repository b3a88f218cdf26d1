"""Transmitter gRPC servicer: decode the image, negotiate the task, encode, stream symbols to the channel."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import grpc

from shared import tasks
from shared.config import WorkTooLarge
from shared.devices import pick_device
from shared.downstream import call_downstream, downstream_error
from shared.endpoints import MiB, client_channel
from shared.errors import abort
from shared.ids import check_id
from shared.imageio import decode_image, to_tensor
from shared.observability import Metrics
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security
from shared.service import Loading, serve
from shared.task_kb import NegotiationFailed, TaskKB, TaskMatch, TaskNotUnderstood, check_agreement
from shared.weights import load_side
from shared.wire import header_of, spec_from_proto, symbol_blocks
from transmitter import step
from transmitter.model import Transmitter

log = logging.getLogger("semcom.transmitter")


class TransmitterService(Loading, rpc.TransmitterServicer):
    service_name = "transmitter"

    def __init__(self, channel_addr: str, receiver_addr: str, max_image_bytes: int, deadline_s: float,
                 security: Security = Security(), metrics: Metrics | None = None, max_concurrent: int = 8) -> None:
        self.metrics = metrics or Metrics("transmitter")
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.channel_addr, self.receiver_addr = channel_addr, receiver_addr
        self.channel_conn = client_channel(channel_addr, security.for_peers())
        self.receiver_conn = client_channel(receiver_addr, security.for_peers())
        self.channel_stub = rpc.ChannelStub(self.channel_conn)
        self.receiver_stub = rpc.ReceiverStub(self.receiver_conn)
        self.max_image_bytes = max_image_bytes
        self.deadline_s = deadline_s
        self._model_lock = threading.Lock()  # one encode at a time: the model is not re-entrant on every device

    def attach(self, model: Transmitter, kb: TaskKB) -> None:
        self.model, self.kb = model, kb
        self.device = next(model.parameters()).device
        self.mark_ready()

    def ListTasks(self, request, context):
        self.ready(context)
        return pb.ListTasksReply(
            tasks=[pb.TaskInfo(name=t, instructions=list(p)) for t, p in self.kb.instructions.items()],
            kb_fingerprint=self.kb.fingerprint, threshold=self.kb.threshold)

    def _negotiate(self, text: str, tid: str, context) -> TaskMatch:
        try:
            mine = self.kb.match(text)
        except TaskNotUnderstood as exc:
            abort(context, exc)
        ask = pb.NegotiateRequest(task=text, transmission_id=tid)  # the receiver refuses an id in use (ALREADY_EXISTS)
        try:
            theirs = call_downstream(lambda t: self.receiver_stub.Negotiate(ask, timeout=t),
                                     self.receiver_conn, context, self.deadline_s)
        except grpc.RpcError as err:
            context.abort(*downstream_error(err, "receiver", self.receiver_addr))
        other = TaskMatch(task=theirs.task, score=theirs.score, scores={}, instruction="")
        try:
            check_agreement(mine, other, self.kb.fingerprint, theirs.kb_fingerprint)
        except NegotiationFailed as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"task negotiation failed: {exc}")
        return mine

    def Send(self, request: pb.SendRequest, context):
        self.accepting(context)
        if not self._slots.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"transmitter is busy: {self.max_concurrent} transmissions in flight (its cap); retry later")
        try:
            return self._send(request, context)
        finally:
            self._slots.release()

    @staticmethod
    def _still_wanted(context, stage: str) -> None:
        """Stop between stages when the caller cancelled or its deadline passed."""
        if not context.is_active():
            context.abort(grpc.StatusCode.CANCELLED, f"caller went away before {stage}")
        left = context.time_remaining()
        if left is not None and left <= 0:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed before {stage}")

    def _send(self, request: pb.SendRequest, context):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cfg = self.model.cfg
        try:
            spec = spec_from_proto(request.channel).validate()
            cfg.check_steps(request.diffusion_steps)
            if request.transmission_id:
                check_id(request.transmission_id)
        except ValueError as exc:
            abort(context, exc)
        try:
            img = decode_image(request.image, self.max_image_bytes, cfg.max_pixels, cfg.max_side)
            cfg.check_codable(img.height, img.width)
        except ValueError as exc:  # ImageRejected, or its ImageTooLarge
            abort(context, exc)
        timings["tx_decode_image"] = time.perf_counter() - t0
        tid = request.transmission_id or uuid.uuid4().hex[:12]
        t = time.perf_counter()
        match = self._negotiate(request.task, tid, context)
        timings["negotiate"] = time.perf_counter() - t
        try:
            cfg.check_codable(img.height, img.width, match.task)  # the task's own code (DCT) may need more room
            if tasks.get(match.task).sampled:
                cfg.check_work(img.height, img.width, request.diffusion_steps)
        except ValueError as exc:  # or its WorkTooLarge
            abort(context, exc)
        self._still_wanted(context, "encoding")
        t = time.perf_counter()
        with self._model_lock:
            sent, x = step.encode(self.model, to_tensor(img), match.task, spec, request.channel.seed,
                                  request.diffusion_steps, tid, match.score, self.kb.fingerprint)
        timings["encode"] = time.perf_counter() - t
        header = header_of(sent, timings)

        def chunks():
            yield pb.TransmitChunk(header=header)
            for block in symbol_blocks(x):
                yield pb.TransmitChunk(symbols=block)

        self._still_wanted(context, "transmitting")
        t = time.perf_counter()
        try:
            reply = call_downstream(lambda t: self.channel_stub.Transmit(chunks(), timeout=t), self.channel_conn,
                                    context, self.deadline_s)
        except grpc.RpcError as err:
            code, msg = downstream_error(err, "channel", self.channel_addr)
            context.abort(code, msg)
        timings["transmit"] = time.perf_counter() - t
        for stage, seconds in timings.items():
            self.metrics.stage(stage, seconds)
        log.info("sent", extra={"transmission_id": tid, "task": match.task, "channel_uses": sent.channel_uses,
                                "snr_db": spec.snr_db, "channel": spec.model})
        return pb.SendReply(transmission_id=tid, task=match.task, score=match.score, channel_uses=sent.channel_uses,
                            cbr=sent.cbr, pilot_uses=sent.pilot_uses, realised_snr_db=reply.realised_snr_db, timings_s=timings,
                            height=img.height, width=img.width)


def run(args) -> int:
    """Serves what ``python -m transmitter``'s flags say (``shared.service.serve``)."""
    return serve("transmitter", args, ("Transmitter",),
                 lambda security, metrics, srv: TransmitterService(
                     args.channel_addr, args.receiver_addr, args.max_image_bytes, args.deadline, security, metrics,
                     args.max_concurrent),
                 rpc.add_TransmitterServicer_to_server,
                 load=lambda: load_side(Transmitter, "transmitter", args.preset, args.weights,
                                        pick_device(args.device)),
                 max_receive_bytes=args.max_image_bytes + MiB, limits={"Send": args.max_concurrent})
