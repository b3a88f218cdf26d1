"""`python -m transmitter`: the transmitter service."""

from __future__ import annotations

import sys

from shared.endpoints import MiB, default_addr, env
from shared.flags import add_model_flags
from shared.service import server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("transmitter", "Transmitter service: task KB, Swin source KB, JSCC encoder.")
    add_model_flags(p)
    p.add_argument("--channel-addr", default=default_addr("channel"), help="channel service (SEMCOM_CHANNEL_ADDR)")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    p.add_argument("--max-concurrent", type=int, default=env("MAX_CONCURRENT", 8),
                   help="transmissions in flight before Send says RESOURCE_EXHAUSTED (SEMCOM_MAX_CONCURRENT)")
    p.add_argument("--max-image-bytes", type=int, default=env("MAX_IMAGE_BYTES", 32 * MiB),
                   help="largest accepted image file (SEMCOM_MAX_IMAGE_BYTES)")
    args = p.parse_args(argv)

    # the models and torch load after the flags, so --help and mistakes answer at once
    from transmitter.service import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
