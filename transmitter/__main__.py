"""`python -m transmitter`: the transmitter service."""

from __future__ import annotations

import sys

from shared.endpoints import MiB, default_addr, env
from shared.service import model_args, serve, server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("transmitter", "Transmitter service: task KB, Swin source KB, JSCC encoder.")
    model_args(p)
    p.add_argument("--channel-addr", default=default_addr("channel"), help="channel service (SEMCOM_CHANNEL_ADDR)")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    p.add_argument("--max-concurrent", type=int, default=env("MAX_CONCURRENT", 8),
                   help="transmissions in flight before Send says RESOURCE_EXHAUSTED (SEMCOM_MAX_CONCURRENT)")
    p.add_argument("--max-image-bytes", type=int, default=env("MAX_IMAGE_BYTES", 32 * MiB),
                   help="largest accepted image file (SEMCOM_MAX_IMAGE_BYTES)")
    args = p.parse_args(argv)

    # after the flags: --help and mistakes answer without loading torch
    from shared.devices import pick_device
    from shared.rpc import semcom_pb2_grpc as rpc
    from shared.weights import load_side
    from transmitter.model import Transmitter
    from transmitter.service import TransmitterService

    return serve("transmitter", args, ("Transmitter",),
                 lambda security, metrics, srv: TransmitterService(
                     args.channel_addr, args.receiver_addr, args.max_image_bytes, args.deadline, security, metrics,
                     args.max_concurrent),
                 rpc.add_TransmitterServicer_to_server,
                 load=lambda: load_side(Transmitter, "transmitter", args.preset, args.weights,
                                        pick_device(args.device)),
                 max_receive_bytes=args.max_image_bytes + MiB, limits={"Send": args.max_concurrent})


if __name__ == "__main__":
    sys.exit(main())
