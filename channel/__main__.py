"""`python -m channel`: the channel emulator service, y = h*x + n."""

from __future__ import annotations

import sys

from shared.endpoints import default_addr, env
from shared.service import serve, server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("channel", "Channel service: applies y = h*x + n and forwards y to the receiver.")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    p.add_argument("--preset", default=env("PRESET", "cpu"),
                   help="the preset whose image caps and symbol grid a header must meet, as at Send (SEMCOM_PRESET)")
    p.add_argument("--weights", default=env("WEIGHTS", "default"),
                   help="the checkpoint the transmitter and receiver load ('default', 'none' or a directory, "
                        "SEMCOM_WEIGHTS): only its config.json is read, for the grid a header's image must have")
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
