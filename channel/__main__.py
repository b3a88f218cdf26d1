"""`python -m channel`: the channel emulator service, y = h*x + n."""

from __future__ import annotations

import sys

from shared.endpoints import default_addr, env
from shared.logs import setup_logging
from shared.service import build_server, run_until_signal, server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("channel", "Channel service: applies y = h*x + n and forwards y to the receiver.")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    p.add_argument("--preset", default=env("PRESET", "cpu"),
                   help="the preset whose image caps and symbol grid a header must meet, as at Send (SEMCOM_PRESET)")
    p.add_argument("--weights", default=env("WEIGHTS", "default"),
                   help="the checkpoint the transmitter and receiver load ('default', 'none' or a directory, "
                        "SEMCOM_WEIGHTS): only its config.json is read, for the grid a header's image must have")
    args = p.parse_args(argv)
    setup_logging(args.log_level, "channel", args.log_format)
    from shared.devices import keep_heap, set_threads

    keep_heap()
    set_threads(args.threads)

    from channel.service import ChannelService
    from shared.rpc import semcom_pb2_grpc as rpc
    from shared.observability import Metrics
    from shared.security import Security

    security, metrics = Security.from_args(args), Metrics("channel")
    srv = build_server(args.host, args.port, args.workers, ("Channel",), security=security, metrics=metrics,
                       limits={"Transmit": args.max_streams}, idle_s=args.idle_timeout,
                       min_rate_kib_s=args.min_rate)
    from shared.weights import resolve_weights

    try:
        caps, _ = resolve_weights(args.preset, args.weights)
    except (ValueError, OSError, KeyError) as exc:
        print(f"channel: cannot read the model's config: {exc}", file=sys.stderr, flush=True)
        return 2
    service = ChannelService(args.receiver_addr, args.deadline, security, metrics, caps)
    service.draining = srv.draining
    rpc.add_ChannelServicer_to_server(service, srv.server)
    metrics.serve(args.metrics_port, args.host)
    srv.server.start()
    return run_until_signal(srv, args.grace)


if __name__ == "__main__":
    sys.exit(main())
