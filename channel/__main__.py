"""`python -m channel`: the channel emulator service, y = h*x + n."""

from __future__ import annotations

import sys

from shared.endpoints import default_addr
from shared.service import model_args, serve, server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("channel", "Channel service: applies y = h*x + n and forwards y to the receiver.")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    model_args(p, device=False)  # the transmitter's and receiver's: their config's image caps and symbol grid
    args = p.parse_args(argv)

    # after the flags: --help and mistakes answer without loading torch
    from channel.service import ChannelService
    from shared.rpc import semcom_pb2_grpc as rpc
    from shared.weights import resolve_weights

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


if __name__ == "__main__":
    sys.exit(main())
