"""`semcom merge`: one checkpoint from two runs that each trained one task's parts of the same weights.

The shipped weights are improved one task at a time: a reconstruction run freezes everything segmentation
uses, a segmentation run everything reconstruction uses (``semcom train --freeze``; weights/README.md). Both
can start from the same checkpoint and run side by side; this takes each task's own parts from its run:

    reconstruction's:  receiver.reconstruction.*, receiver.source_kb.block2.*,
                       transmitter.encoder.snr_gate.reconstruction.*   (+ the config's dit and diffusion)
    segmentation's:    receiver.segmentation.*, transmitter.encoder.snr_gate.segmentation.*   (+ config's seg)
    and each task's entry in the config's encoder.per_image_gains (whether its transmissions fit the linear
    code's allocation to the image).

Every other tensor (the Swin source KB, the JSCC encoder, the linear path, the receiver KB's first block)
serves both tasks and must be identical in the two runs, as must the rest of the config; otherwise the merge
is refused, since one decoder would be paired with shared parts it was not trained with.

    semcom merge --reconstruction runs/rec --segmentation runs/seg --out runs/both
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from semcom.train.system import System
from shared.config import DCT_SETTINGS
from shared.provenance import git_commit
from shared.weights import (TASK_CONFIG, TASK_TENSORS, WEIGHTS_FILE, file_sha256, read_config, read_tensors,
                            save_checkpoint)


def merge(rec_dir: str | Path, seg_dir: str | Path, out: str | Path, command: str = "") -> Path:
    (rec_cfg, rec_doc), (seg_cfg, seg_doc) = read_config(rec_dir), read_config(seg_dir)
    gains = tuple(t for t, c in (("reconstruction", rec_cfg), ("segmentation", seg_cfg))
                  if t in c.encoder.per_image_gains)
    dct = tuple(t for t, c in (("reconstruction", rec_cfg), ("segmentation", seg_cfg)) if t in c.encoder.dct_tasks)
    coder = (rec_cfg if "reconstruction" in rec_cfg.encoder.dct_tasks else seg_cfg).encoder  # the DCT code's run
    rec_cfg, seg_cfg = (c.replace(**{"encoder.per_image_gains": gains, "encoder.dct_tasks": dct,
                                     **{f"encoder.{s}": getattr(coder, s) for s in DCT_SETTINGS}})
                        for c in (rec_cfg, seg_cfg))
    rec_d, seg_d = rec_cfg.to_dict(), seg_cfg.to_dict()
    differ = [k for k in rec_d if k not in TASK_CONFIG["reconstruction"] + TASK_CONFIG["segmentation"]
              and rec_d[k] != seg_d.get(k)]
    if differ:
        raise ValueError(f"{rec_dir} and {seg_dir} are different models (config {', '.join(differ)} differ): "
                         "merge two runs started from the same checkpoint")
    cfg = rec_cfg.replace(seg=seg_cfg.seg)
    rec, seg = read_tensors(rec_dir), read_tensors(seg_dir)
    merged = {k: v for k, v in rec.items() if not k.startswith(TASK_TENSORS["segmentation"])}
    merged.update({k: v for k, v in seg.items() if k.startswith(TASK_TENSORS["segmentation"])})
    moved = sorted(k for k in merged if not k.startswith(TASK_TENSORS["reconstruction"] + TASK_TENSORS["segmentation"])
                   and (k not in seg or seg[k].shape != merged[k].shape or not torch.equal(seg[k], merged[k])))
    if moved:
        shown = ", ".join(moved[:3]) + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
        raise ValueError(f"the runs differ in parts both tasks use ({shown}): each run must freeze what the other "
                         "task uses (semcom train --freeze; weights/README.md)")
    system = System(cfg)
    for side in ("transmitter", "receiver"):  # strict: every tensor the merged config needs, none more
        getattr(system, side).load_state_dict({k[len(side) + 1:]: v for k, v in merged.items()
                                               if k.startswith(side + ".")}, strict=True)
    meta = {"task": "joint", "merged": {
        task: {"from": str(d), "sha256": file_sha256(Path(d) / WEIGHTS_FILE), "meta": doc.get("meta", {})}
        for task, d, doc in (("reconstruction", rec_dir, rec_doc), ("segmentation", seg_dir, seg_doc))},
        "cbr": cfg.encoder.cbr, "classes": list(cfg.seg.class_names), "git_commit": git_commit(),
        "command": command}
    return save_checkpoint(out, cfg, {"transmitter": system.transmitter, "receiver": system.receiver}, meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom merge", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reconstruction", required=True, metavar="DIR", help="the run whose reconstruction parts to take")
    p.add_argument("--segmentation", required=True, metavar="DIR", help="the run whose segmentation parts to take")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the merged checkpoint")
    a = p.parse_args(argv)
    try:
        out = merge(a.reconstruction, a.segmentation, a.out,
                    "semcom merge " + " ".join(sys.argv[2:] if argv is None else argv))
    except (ValueError, FileNotFoundError) as e:
        print(f"semcom merge: {e}", file=sys.stderr)
        return 2
    print(f"{out}: reconstruction from {a.reconstruction}, segmentation from {a.segmentation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
