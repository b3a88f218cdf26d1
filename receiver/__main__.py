"""`python -m receiver`: the receiver service."""

from __future__ import annotations

import sys

from shared.endpoints import env
from shared.service import model_args, serve, server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("receiver", "Receiver service: task KB, residual source KB, diffusion and segmentation decoders.")
    model_args(p)
    p.add_argument("--queue-depth", type=int, default=env("QUEUE_DEPTH", 16),
                   help="transmissions waiting for decoding before Deliver says RESOURCE_EXHAUSTED")
    p.add_argument("--keep", type=int, default=env("KEEP_RESULTS", 256), help="results kept for late readers")
    p.add_argument("--subscriber-depth", type=int, default=env("SUBSCRIBER_DEPTH", 64),
                   help="results queued per subscriber before it is dropped as too slow")
    p.add_argument("--results-dir", default=env("RESULTS_DIR", None),
                   help="also keep the last --keep results in this directory, so that they, their sequence "
                        "numbers and the epoch survive a restart (default: memory only; a restart starts a new epoch)")
    args = p.parse_args(argv)

    # after the flags: --help and mistakes answer without loading torch
    from receiver.model import Receiver
    from receiver.service import ReceiverService
    from shared.devices import pick_device
    from shared.rpc import semcom_pb2_grpc as rpc
    from shared.weights import load_side

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


if __name__ == "__main__":
    sys.exit(main())
