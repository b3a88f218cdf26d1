"""Channel gRPC servicer: assemble x, apply y = h*x + n (``channel.step``), forward y (and h) to the receiver."""

from __future__ import annotations

import logging
import sys
import time

import grpc

from channel.step import transmit
from shared.channel import MAX_SYMBOLS
from shared.config import ModelConfig
from shared.downstream import call_downstream, downstream_error
from shared.endpoints import client_channel
from shared.errors import abort
from shared.observability import Metrics
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security
from shared.service import Loading, serve
from shared.weights import resolve_weights
from shared.wire import SymbolAssembler, WireError, opening, symbol_blocks, transmission_of

log = logging.getLogger("semcom.channel")


class ChannelService(Loading, rpc.ChannelServicer):
    service_name = "channel"

    def __init__(self, receiver_addr: str, deadline_s: float, security: Security = Security(),
                 metrics: Metrics | None = None, caps: ModelConfig | None = None) -> None:
        self.metrics = metrics or Metrics("channel")
        self.receiver_addr = receiver_addr
        self.receiver_conn = client_channel(receiver_addr, security.for_peers())
        self.receiver_stub = rpc.ReceiverStub(self.receiver_conn)
        self.deadline_s = deadline_s
        # the model the other sides load: its image caps (as Send applies them) and the symbol grid it makes of an
        # image, applied to every header (None: MAX_SYMBOLS only)
        self.caps = caps
        self.mark_ready()  # nothing to load

    def Transmit(self, request_iterator, context):
        self.accepting(context)
        header = opening(request_iterator, context, "Transmit").header
        try:
            sent = transmission_of(header)
            n = sent.channel_uses
            if n > MAX_SYMBOLS:
                raise WireError(f"{n} symbols announced, over the channel's cap of {MAX_SYMBOLS}")
            if self.caps is not None:  # before a single symbol is buffered
                self.caps.check_image_size(*sent.image_size)
                if n > 3 * sent.image_size[0] * sent.image_size[1]:
                    raise WireError(f"{n} symbols announced for a {sent.image_size[1]}x{sent.image_size[0]} image: "
                                    "more than one channel use per pixel value (CBR > 1)")
                self.caps.check_grid(sent.grid, sent.image_size)  # the model's grid for this image, and no other
            x = SymbolAssembler(n)
            for msg in request_iterator:
                if msg.WhichOneof("part") != "symbols":
                    raise WireError("only symbol blocks may follow the header")
                x.add(msg.symbols)
            symbols = x.tensor()
        except ValueError as exc:  # WireError among them
            abort(context, exc)
        t = time.perf_counter()
        out = transmit(symbols[None], sent.channel, sent.seed)
        channel_s = time.perf_counter() - t
        self.metrics.stage("channel", channel_s)
        realised = float(out.realised_snr_db[0])
        header.timings_s["channel"] = channel_s

        def chunks():
            yield pb.DeliverChunk(header=header, noise_var=float(out.noise_var[0]), realised_snr_db=realised)
            for block in symbol_blocks(out.y[0]):
                yield pb.DeliverChunk(y=block)
            if out.h is not None and sent.channel.gains_on_wire:
                for block in symbol_blocks(out.h[0]):
                    yield pb.DeliverChunk(h=block)

        try:
            call_downstream(lambda t: self.receiver_stub.Deliver(chunks(), timeout=t), self.receiver_conn, context,
                            self.deadline_s)
        except grpc.RpcError as err:
            context.abort(*downstream_error(err, "receiver", self.receiver_addr))
        log.info("forwarded", extra={"transmission_id": sent.id, "channel": sent.channel.model,
                                     "snr_db": sent.channel.snr_db, "realised_snr_db": round(realised, 3), "symbols": n})
        return pb.TransmitReply(realised_snr_db=realised, channel_s=channel_s)


def run(args) -> int:
    """Serves what ``python -m channel``'s flags say (``shared.service.serve``)."""
    try:
        caps, _ = resolve_weights(args.preset, args.weights)
    except (ValueError, OSError, KeyError) as exc:
        print(f"channel: cannot read the model's config: {exc}", file=sys.stderr, flush=True)
        return 2
    return serve("channel", args, ("Channel",),
                 lambda security, metrics, srv: ChannelService(args.receiver_addr, args.deadline, security, metrics,
                                                               caps),
                 rpc.add_ChannelServicer_to_server,
                 limits={"Transmit": args.max_streams}, idle_s=args.idle_timeout, min_rate_kib_s=args.min_rate)
