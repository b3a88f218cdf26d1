"""`python -m receiver`: the receiver service."""

from __future__ import annotations

import sys

from shared.endpoints import env
from shared.flags import add_model_flags
from shared.service import server_args


def main(argv: list[str] | None = None) -> int:
    p = server_args("receiver", "Receiver service: task KB, residual source KB, diffusion and segmentation decoders.")
    add_model_flags(p)
    p.add_argument("--queue-depth", type=int, default=env("QUEUE_DEPTH", 16),
                   help="transmissions waiting for decoding before Deliver says RESOURCE_EXHAUSTED")
    p.add_argument("--keep", type=int, default=env("KEEP_RESULTS", 256), help="results kept for late readers")
    p.add_argument("--subscriber-depth", type=int, default=env("SUBSCRIBER_DEPTH", 64),
                   help="results queued per subscriber before it is dropped as too slow")
    p.add_argument("--results-dir", default=env("RESULTS_DIR", None),
                   help="also keep the last --keep results in this directory, so that they, their sequence "
                        "numbers and the epoch survive a restart (default: memory only; a restart starts a new epoch)")
    args = p.parse_args(argv)

    # the models and torch load after the flags, so --help and mistakes answer at once
    from receiver.service import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
