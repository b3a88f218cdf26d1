"""The receiver's step of the chain: a transmission's received symbols -> the task's output -> the result's parts.

The service (its decoder thread) and the in-process pipeline call ``decode``; the service adds ``check``
(what a header must satisfy before any symbol is accepted) and ``render`` (PNGs for the result).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from receiver.model import Receiver
from shared.classes import colourise
from shared.config import ModelConfig
from shared.ids import check_id
from shared.imageio import encode_png, to_pil
from shared.task_kb import RECONSTRUCTION, TASKS
from shared.transmission import Transmission


def check(t: Transmission, model: Receiver, kb_fingerprint: str) -> None:
    """ValueError unless this receiver can decode `t`; checked before anything is sized by it."""
    if t.task not in TASKS:
        raise ValueError(f"unknown task {t.task!r}; known tasks: {', '.join(TASKS)}")
    if t.kb_fingerprint != kb_fingerprint:
        raise ValueError(f"task KBs differ: transmitter {t.kb_fingerprint}, receiver {kb_fingerprint}")
    cfg = model.cfg
    cfg.check_image_size(*t.image_size)
    cfg.check_steps(t.steps)
    c, s = cfg.encoder.symbol_channels, cfg.encoder.stride
    if t.grid[0] != c:
        raise ValueError(f"transmitter sends {t.grid[0]} symbol channels, this receiver's model expects {c} "
                         f"(CBR {cfg.encoder.cbr}): load the same weights on both sides")
    if t.grid[1:] != (-(-t.image_size[0] // s), -(-t.image_size[1] // s)):
        raise ValueError("symbol grid does not match the image size")
    check_id(t.id)
    if cfg.encoder.linear_path and not (math.isfinite(t.scale) and t.scale > 0):
        raise ValueError(f"power scale {t.scale} is not a positive number: this receiver's model inverts the "
                         "transmitter's linear code and needs it (load the same weights on both sides)")
    check_allocation(t, cfg)


def check_allocation(t: Transmission, cfg: ModelConfig) -> None:
    """The linear code's per-image allocation: 2k finite numbers (k positive ratios, k variances >= 0) for a task
    this model fits it for, none otherwise."""
    expected = cfg.encoder.linear_path and t.task in cfg.encoder.per_image_gains
    k = 2 * cfg.encoder.symbol_channels
    if not expected:
        if t.allocation:
            raise ValueError(f"the transmitter sent a per-image allocation of its linear code for {t.task}, which "
                             "this receiver's model does not use: load the same weights on both sides")
        return
    if len(t.allocation) != 2 * k:
        raise ValueError(f"this receiver's model needs the linear code's per-image allocation for {t.task} "
                         f"({2 * k} numbers), got {len(t.allocation)}: load the same weights on both sides")
    ratios, variances = t.allocation[:k], t.allocation[k:]
    if not all(math.isfinite(r) and r > 0 for r in ratios) or not all(math.isfinite(v) and v >= 0 for v in variances):
        raise ValueError("the linear code's per-image allocation must be positive finite ratios and finite "
                         "variances >= 0")


@torch.no_grad()
def decode(model: Receiver, t: Transmission, y: torch.Tensor, h: torch.Tensor | None, noise_var: float,
           on_step=None) -> torch.Tensor:
    """y (n,) complex received symbols (+ h (n,) when told) -> image (3, H, W) in [0, 1] or labels (H, W) long."""
    device = next(model.parameters()).device
    out = model.receive(t, y[None].to(device), None if h is None else h[None].to(device),
                        torch.tensor([noise_var], device=device), on_step)
    return out[0]


def render(output: torch.Tensor, t: Transmission, model: Receiver) -> dict:
    """The output as the result's fields: the reconstruction as PNG, or the label map, its colours and names."""
    cfg = model.cfg
    if t.task == RECONSTRUCTION:
        return {"image_png": encode_png(to_pil(output)), "diffusion_steps": t.steps or cfg.diffusion.sample_steps}
    labels = output.cpu().numpy().astype(np.uint8)  # (H, W) class indices
    return {"labels_png": encode_png(Image.fromarray(labels, mode="L")),
            "colour_png": encode_png(Image.fromarray(colourise(labels, cfg.seg.num_classes), mode="RGB")),
            "class_names": list(cfg.seg.class_names)}
