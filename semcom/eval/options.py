"""`semcom eval`: quality against SNR, written as JSON (one schema for every system) and PNG plots.

    semcom eval --task reconstruction --data ../shared/data/kodak --channel awgn --snr 0:20:5 --out results/eval
    semcom eval --task segmentation --data ../shared/data/camvid --channel awgn --snr 0:20:5 --out results/eval
    semcom eval --task reconstruction --systems proposed,jpeg-16qam-1/2,deepjscc --data ../shared/data/kodak ...

Reconstruction systems: proposed; deepjscc, adjscc and witt (trained with `semcom train --system NAME`, read from
--baseline-weights); linear and softcast (linear analog codes of 16x16 patches, no training: the floor a learned
code must clear); jpeg-{16,64}qam-{1/2,2/3} (JPEG + 5G LDPC + QAM, no training); avif-ldpc (AVIF + 5G LDPC +
QAM, the modulation and code rate chosen for the SNR); hda-avif (an AVIF base over that link and the DCT code of
what it leaves);
capacity-avif (AVIF at the channel's Shannon capacity: the reference line of separate coding).
Segmentation systems: proposed; deeplab-jscc (trained, from --baseline-weights);
fcn-jpeg-{16,64}qam-{1/2,2/3} (the classical chain, then the trained FCN in fcn/).

JSON (one file per system, task, channel, data set)::

    {"name", "description", "task", "dataset", "channel", "cbr", "snr_db": [...],
     "results": {"psnr": [...], "ms_ssim": [...]} | {"miou": [...], "pixel_accuracy": [...]},
     "noiseless": {...}, "per_image": {...}, "git_commit", "weights", "weights_sha256", "seed", "command"}

Plots are drawn from the JSON files in --out (so curves of other runs and systems in the
same folder appear together).
"""

from __future__ import annotations

import argparse
import sys

from semcom import systems
from shared import tasks
from shared.channel import ChannelSpec
from shared.channel_flags import add_channel_flags, params_of
from shared.flags import add_model_flags
from shared.weights import REPO_WEIGHTS


def parse_snr(text: str) -> list[float]:
    """'0:20:5' -> [0, 5, 10, 15, 20]; '1,4,7' -> [1, 4, 7]."""
    if ":" in text:
        lo, hi, step = (float(v) for v in text.split(":"))
        n = int(round((hi - lo) / step)) + 1
        return [round(lo + i * step, 6) for i in range(n)]
    return [float(v) for v in text.split(",")]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """`semcom eval`'s options, checked (the channel and its parameters) before anything heavy is loaded."""
    argv = list(sys.argv[2:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="semcom eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=tasks.names(), required=True, help="a task of the task table (shared.tasks)")
    p.add_argument("--systems", default="proposed", help=f"comma-separated, from: {', '.join(systems.names())}")
    p.add_argument("--data", required=True, help="a folder of PNG/JPEG images, e.g. Kodak (reconstruction), or a CamVid/VOC root")
    p.add_argument("--split", default="val", help="segmentation split: a listing (val), several (train+val) or, for "
                   "CamVid, drives held in or out (train:0006R0 = the train frames of drive 0006R0 alone)")
    p.add_argument("--crop", type=int, default=0, help="centre-crop images to this size (e.g. 224); 0 = whole")
    add_channel_flags(p, noisy=True, channel_help="the channel model (the noiseless point is always added)")
    p.add_argument("--snr", default="0:20:5", help="LO:HI:STEP or a comma list, dB")
    p.add_argument("--cbr", help="must match the weights' CBR if given (the proposed system is trained per CBR)")
    add_model_flags(p)  # the proposed system's
    p.add_argument("--baseline-weights", default="weights/baselines",
                   help="folder with one trained checkpoint per learned baseline (deepjscc/, adjscc/, witt/)")
    p.add_argument("--linear-weights", default=str(REPO_WEIGHTS / "linear"),
                   help="folder with the patch PCA of the linear and softcast systems")
    p.add_argument("--steps", type=int, help="diffusion sampling steps (default: the preset's)")
    p.add_argument("--images", help="only these file names, comma-separated (e.g. kodim05.png)")
    p.add_argument("--limit", type=int, default=10**9, help="evaluate at most this many images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", type=int, default=0,
                   help="also save this many example outputs per system and a grid of them (Figs. 6 and 7)")
    p.add_argument("--example-snr", type=float, default=7.0, help="SNR (dB) of the examples")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    args.argv = argv
    try:
        ChannelSpec.of(args.channel, 10.0, args.block_len, args.csi, **params_of(args)).validate()
    except ValueError as e:
        p.error(str(e))
    return args
