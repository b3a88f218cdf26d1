"""`python -m transmitter`: the transmitter service."""

from __future__ import annotations

import sys

from shared.devices import keep_heap, pick_device, set_threads
from shared.endpoints import MiB, default_addr, env
from shared.logs import setup_logging
from shared.service import build_server, load_models_or_exit, model_args, run_until_signal, server_args


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
    setup_logging(args.log_level, "transmitter", args.log_format)
    keep_heap()
    set_threads(args.threads)

    from shared.rpc import semcom_pb2_grpc as rpc
    from shared.observability import Metrics
    from shared.security import Security
    from shared.task_kb import TaskKB
    from shared.weights import load_side
    from transmitter.model import Transmitter
    from transmitter.service import TransmitterService

    # bind and answer health (NOT_SERVING) first, load the models, then say SERVING
    security, metrics = Security.from_args(args), Metrics("transmitter")
    srv = build_server(args.host, args.port, args.workers, ("Transmitter",),
                       max_receive_bytes=args.max_image_bytes + MiB, security=security, metrics=metrics,
                       limits={"Send": args.max_concurrent})
    service = TransmitterService(args.channel_addr, args.receiver_addr, args.max_image_bytes, args.deadline, security,
                                 metrics, args.max_concurrent)
    metrics.serve(args.metrics_port, args.host)
    service.draining = srv.draining
    rpc.add_TransmitterServicer_to_server(service, srv.server)
    srv.server.start()
    model = load_models_or_exit("transmitter", srv, lambda: load_side(Transmitter, "transmitter", args.preset,
                                                                       args.weights, pick_device(args.device)))
    service.attach(model, TaskKB())
    return run_until_signal(srv, args.grace)


if __name__ == "__main__":
    sys.exit(main())
