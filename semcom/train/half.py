"""`semcom half`: a checkpoint stored at half precision, for shipping (half the bytes in every clone).

    semcom half weights/cpu --out runs/cpu-half

Floating tensors of at least --min-size values are stored as float16; smaller ones (norms, biases, gates)
and those under --keep (default: the linear analog code, whose patch basis and priors set the floor every
other part corrects) stay float32, as does any tensor that float16 cannot hold (values beyond ±65504, or
non-zero values that would round to zero). Loading needs nothing new: a model's float32 parameters take the
float16 values as they load. The config keeps its model and provenance, records what was halved, and carries
the new file's sha256. Check that the numbers you quote hold with the result before shipping it
(`semcom eval … --weights OUT`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from shared.tensorfile import save_tensors
from shared.weights import CONFIG_FILE, WEIGHTS_FILE, file_sha256, read_tensors

KEEP = ("transmitter.encoder.analog.", "receiver.analog.")
FP16_MAX = 65504.0
FP16_TINY = 6.1e-5  # the smallest normal float16


def halvable(name: str, t: torch.Tensor, min_size: int, keep: tuple[str, ...]) -> bool:
    if not t.is_floating_point() or t.numel() < min_size or name.startswith(keep):
        return False
    mags = t.abs()
    return bool(mags.max() <= FP16_MAX) and not bool(((mags > 0) & (mags < FP16_TINY)).float().mean() > 0.01)


def halve(src: str | Path, out: str | Path, min_size: int = 4096, keep: tuple[str, ...] = KEEP) -> dict:
    src, out = Path(src), Path(out)
    if not (src / WEIGHTS_FILE).exists() or not (src / CONFIG_FILE).exists():
        raise SystemExit(f"semcom half: {src} is not a checkpoint (no {WEIGHTS_FILE} and {CONFIG_FILE})")
    if out.resolve() == src.resolve():
        raise SystemExit("semcom half: --out must differ from the source (its config holds the source's sha256)")
    tensors = read_tensors(src)
    halved = {k for k, v in tensors.items() if halvable(k, v, min_size, keep)}
    stored = {k: (v.half() if k in halved else v).contiguous() for k, v in tensors.items()}
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(stored, out / WEIGHTS_FILE)
    doc = json.loads((src / CONFIG_FILE).read_text())
    summary = {"source_sha256": file_sha256(src / WEIGHTS_FILE), "float16_tensors": len(halved),
               "float16_values": sum(tensors[k].numel() for k in halved),
               "values": sum(v.numel() for v in tensors.values()), "min_size": min_size, "kept": list(keep)}
    doc.setdefault("meta", {})["half_precision"] = summary
    doc["sha256"] = file_sha256(out / WEIGHTS_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom half", description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="a checkpoint directory (model.safetensors + config.json)")
    p.add_argument("--out", required=True, help="where to write the half-precision checkpoint")
    p.add_argument("--min-size", type=int, default=4096, help="tensors with fewer values stay float32 (4096)")
    p.add_argument("--keep", action="append", default=None, metavar="PREFIX",
                   help="tensor-name prefix that stays float32 (repeatable; default: the linear analog code)")
    a = p.parse_args(argv)
    if a.min_size < 1:
        p.error("--min-size must be at least 1")
    s = halve(a.source, a.out, a.min_size, tuple(a.keep) if a.keep is not None else KEEP)
    size = lambda d: (Path(d) / WEIGHTS_FILE).stat().st_size / 2**20  # noqa: E731
    print(f"{a.out}: {s['float16_tensors']} tensors ({s['float16_values']} of {s['values']} values) as float16; "
          f"{size(a.source):.1f} MiB -> {size(a.out):.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
