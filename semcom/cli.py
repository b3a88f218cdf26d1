"""`semcom`: the project's command line (train, eval, bench, up, web)."""

from __future__ import annotations

import sys

USAGE = """usage: semcom COMMAND [ARGS]

commands:
  eval            quality against SNR (PSNR, MS-SSIM or mIoU) as JSON + PNG plots
  sweep           a grid of evaluations from a TOML spec, here or on a Ray cluster, into a store of one file per cell
  up              start transmitter, channel and receiver as local processes (Ctrl-C stops them); --web adds the page
  web             the browser page (http://127.0.0.1:8080): send an image, choose task and channel, see what arrives
  train           train the system (joint or one task), channel in the loop; resumable; torchrun for DDP
  merge           one checkpoint from a run that trained reconstruction's parts and one that trained segmentation's
  half            a checkpoint stored at half precision, for shipping
  bench models    parameters, peak memory and seconds per image of each preset (JSON)
  bench services  the three services on loopback: throughput, latency, transport overhead, memory (JSON)
  bench taskkb    similarity scores behind the task KB's threshold and margin (JSON)
  bench diffusion quality, realism and time against diffusion steps, starting noise and without the DiT (JSON)

Run `semcom COMMAND --help` for a command's options."""


COMMANDS = {"eval": "semcom.eval.cli", "up": "semcom.launcher", "train": "semcom.train.trainer",
            "merge": "semcom.train.merge", "half": "semcom.train.half", "web": "semcom.web.app", "sweep": "semcom.sweep.cli"}
# commands whose work loads torch: their options live in a light module, read (--help, mistakes) before the work's
OPTIONS = {"eval": "semcom.eval.options", "train": "semcom.train.options", "sweep": "semcom.sweep.options"}
BENCHES = {"models": "semcom.bench.models", "services": "semcom.bench.services",
           "diffusion": "semcom.bench.diffusion", "taskkb": "semcom.bench.taskkb"}


def main(argv: list[str] | None = None) -> int:
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "bench":
        if not rest or rest[0] in {"-h", "--help"}:
            print("usage: semcom bench {" + ",".join(BENCHES) + "} [ARGS]\n\n" +
                  "\n".join(line for line in USAGE.splitlines() if line.startswith("  bench ")) +
                  "\n\nRun `semcom bench NAME --help` for a benchmark's options.")
            return 0 if rest else 2
        module, rest = BENCHES.get(rest[0]), rest[1:]
    else:
        module = COMMANDS.get(cmd)
    if module is None:
        print(f"semcom: unknown command {' '.join(argv[:2])!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        if cmd in OPTIONS:
            options = importlib.import_module(OPTIONS[cmd]).parse(rest)  # --help answers here, without torch
            return importlib.import_module(module).run(options)
        return importlib.import_module(module).main(rest)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
