"""One unit of a sweep's work: a shard of one cell's images through one system and one channel, and the merge of a
cell's shards into `semcom eval`'s JSON.

What a worker process loads (the data set, the system's weights) it keeps for the next cell that needs the same,
so a worker loads each model once, not once per cell.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from semcom import systems
from semcom.eval.cli import load_images, load_pairs, pilot_overhead
from semcom.eval.quality import reconstruction_quality, segmentation_quality
from semcom.sweep.spec import Cell
from shared.metrics import ConfusionMatrix
from shared.provenance import provenance
from shared.weights import REPO_WEIGHTS

_DATA: dict[tuple, list] = {}
_SYSTEMS: dict[tuple, Any] = {}


def _data(cell: Cell) -> list:
    key = (cell.task, cell.data, cell.split, cell.crop, cell.images, cell.limit)
    if key not in _DATA:
        if cell.labelled:
            _DATA[key] = load_pairs(cell.data, cell.split, cell.limit, cell.crop)
        else:
            _DATA[key] = load_images(cell.data, list(cell.images) or None, cell.limit, cell.crop)
    return _DATA[key]


def _system(cell: Cell, data: list):
    """The built system (``semcom.systems``), once per process for its weights, data set and settings: the
    digital chains show a lost image as the data set's mean colour, so the whole data set builds it, whatever
    shard of it this task evaluates."""
    key = (cell.system, cell.task, cell.preset, cell.weights, cell.baseline_weights, cell.linear_weights,
           cell.device, cell.steps, cell.data, cell.split, cell.crop, cell.images, cell.limit)
    if key not in _SYSTEMS:
        images = [img for img, _ in data] if cell.labelled else data
        ctx = systems.BuildContext(preset=cell.preset, weights=cell.weights, baseline_weights=cell.baseline_weights,
                                   linear_weights=cell.linear_weights or str(REPO_WEIGHTS / "linear"),
                                   device=cell.device, steps=cell.steps, images=images)
        _SYSTEMS[key] = systems.get(cell.system, cell.task).build(ctx, cell.task)
    return _SYSTEMS[key]


def shard_range(count: int, shard: int, shards: int) -> range:
    """The contiguous run of image indices shard `shard` of `shards` takes (sizes differ by at most one)."""
    base, extra = divmod(count, shards)
    start = shard * base + min(shard, extra)
    return range(start, start + base + (1 if shard < extra else 0))


class CellFailed(RuntimeError):
    """A cell that cannot be computed (a system without its weights, a data folder without images): its message."""


def evaluate_shard(cell_dict: dict, shard: int = 0) -> dict:
    """One shard of one cell: per-image PSNR / MS-SSIM (reconstruction) or the summed confusion matrix
    (segmentation) of the shard's images, with what the merge needs and where it ran."""
    try:
        return _evaluate_shard(cell_dict, shard)
    except SystemExit as exc:  # the loaders' one-line refusals end a command; here they end only this cell
        raise CellFailed(str(exc.code)) from None


def _evaluate_shard(cell_dict: dict, shard: int) -> dict:
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("SEMCOM_SWEEP_THREADS", "1"))))
    cell = Cell.from_dict(cell_dict)
    data = _data(cell)
    built = _system(cell, data)
    part = shard_range(len(data), shard, cell.shards)
    out = {"shard": shard, "first": part.start, "count": len(part), "cbr": built.cbr,
           "provenance": built.provenance, "host": socket.gethostname(), "pid": os.getpid()}
    items = [data[i] for i in part]
    if cell.labelled:
        q = segmentation_quality(built.run, items, cell.spec, *built.classes, seed=cell.seed, first=part.start)
        out.update(confusion=q["confusion"], classes=list(built.classes), sizes=[list(img.shape[-2:])
                                                                              for img, _ in items])
    else:
        q = reconstruction_quality(built.run, items, cell.spec, seed=cell.seed, first=part.start)
        out.update(psnr=q["psnr"], ms_ssim=q["ms_ssim"], sizes=[list(img.shape[-2:]) for img in items])
    return out


def merge(cell: Cell, parts: list[dict], command: str) -> dict:
    """A cell's shards as one document of `semcom eval`'s schema (one SNR point): PSNR averaged over every image,
    mIoU from the summed confusion matrix (never an average of the shards' mIoUs)."""

    parts = sorted(parts, key=lambda p: p["shard"])
    sizes = [tuple(s) for p in parts for s in p["sizes"]]
    first = parts[0]
    if cell.labelled:
        num_classes, void = first["classes"]
        cm = ConfusionMatrix(num_classes, void)
        for p in parts:
            import torch

            cm.matrix += torch.tensor(p["confusion"], dtype=torch.long)
        results = {"miou": [round(cm.miou(), 5)], "pixel_accuracy": [round(cm.pixel_accuracy(), 5)]}
        per_image = {str(cell.snr_db): {"iou": [None if v != v else round(v, 4) for v in cm.iou().tolist()],
                                        "confusion": cm.matrix.tolist()}}
    else:
        psnr = [v for p in parts for v in p["psnr"]]
        ssim = [v for p in parts for v in p["ms_ssim"]]
        results = {"psnr": [round(sum(psnr) / len(psnr), 5)]}
        if ssim:
            results["ms_ssim"] = [round(sum(ssim) / len(ssim), 5)]
        per_image = {str(cell.snr_db): {"psnr": psnr, "ms_ssim": ssim}}
    entry = systems.get(cell.system, cell.task)
    spec = cell.spec
    return {"name": cell.system, "description": entry.description, "kind": entry.kind, "task": cell.task,
            "dataset": cell.data, "split": cell.split if cell.labelled else None, "crop": cell.crop,
            "images": len(sizes), "channel": cell.channel, "channel_params": spec.param_values(),
            "block_len": cell.block_len, "csi": cell.csi, "cbr": first["cbr"],
            **pilot_overhead(spec, first["cbr"], sizes), "snr_db": [cell.snr_db], "results": results,
            "noiseless": {}, **first["provenance"], **provenance(command, cell.seed), "per_image": per_image,
            "cell": cell.identity(), "key": cell.key,
            "shards": [{"shard": p["shard"], "images": p["count"], "host": p["host"], "pid": p["pid"]}
                       for p in parts]}
