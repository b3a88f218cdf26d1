"""`semcom`: the project's command line (train, eval, bench, up)."""

from __future__ import annotations

import sys

USAGE = """usage: semcom COMMAND [ARGS]

commands:
  eval            quality against SNR (PSNR, MS-SSIM or mIoU) as JSON + PNG plots
  up              start transmitter, channel and receiver as local processes (Ctrl-C stops them)
  train           train the system (joint or one task), channel in the loop; resumable; torchrun for DDP
  bench models    parameters, peak memory and seconds per image of each preset (JSON)
  bench services  the three services on loopback: throughput, latency, transport overhead, memory (JSON)
  bench taskkb    similarity scores behind the task KB's threshold and margin (JSON)
  bench diffusion quality, realism and time against diffusion steps, starting noise and without the DiT (JSON)

Run `semcom COMMAND --help` for a command's options."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "eval":
            from semcom.eval.cli import main as run
            return run(rest)
        if cmd == "up":
            from semcom.launcher import main as run
            return run(rest)
        if cmd == "train":
            from semcom.train.trainer import main as run
            return run(rest)
        if cmd == "bench" and rest[:1] == ["models"]:
            from semcom.bench.models import main as run
            return run(rest[1:])
        if cmd == "bench" and rest[:1] == ["services"]:
            from semcom.bench.services import main as run
            return run(rest[1:])
        if cmd == "bench" and rest[:1] == ["diffusion"]:
            from semcom.bench.diffusion import main as run
            return run(rest[1:])
        if cmd == "bench" and rest[:1] == ["taskkb"]:
            from semcom.bench.taskkb import main as run
            return run(rest[1:])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"semcom: unknown command {' '.join(argv[:2])!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
