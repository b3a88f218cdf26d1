"""`python -m channel`: the channel emulator service, y = h*x + n."""

from __future__ import annotations

import sys

from shared.endpoints import default_addr
from shared.flags import add_model_flags
from shared.service import server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("channel", "Channel service: applies y = h*x + n and forwards y to the receiver.")
    p.add_argument("--receiver-addr", default=default_addr("receiver"), help="receiver service (SEMCOM_RECEIVER_ADDR)")
    add_model_flags(p, device=False)  # the transmitter's and receiver's: their config's image caps and symbol grid
    args = p.parse_args(argv)

    # the models and torch load after the flags, so --help and mistakes answer at once
    from channel.service import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
