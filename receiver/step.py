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
from shared import tasks
from shared.classes import colourise
from shared.config import ModelConfig
from shared.ids import check_id
from shared.imageio import encode_png, to_pil
from shared.transmission import Transmission

# What side information of a transmission can be: a unit-power transmission of an image in [0, 1] needs scales
# far inside these; beyond them a decoder's arithmetic overflows (a black image, NaN) instead of refusing.
MIN_SCALE, MAX_SCALE = 1e-6, 1e6


def check(t: Transmission, model: Receiver, kb_fingerprint: str) -> None:
    """ValueError unless this receiver can decode `t`; checked before anything is sized by it."""
    task = tasks.get(t.task)  # ValueError naming the known tasks
    if t.kb_fingerprint != kb_fingerprint:
        raise ValueError(f"task KBs differ: transmitter {t.kb_fingerprint}, receiver {kb_fingerprint}")
    cfg = model.cfg
    cfg.check_image_size(*t.image_size)
    cfg.check_steps(t.steps)
    cfg.check_grid(t.grid, t.image_size)
    check_id(t.id)
    if not (math.isfinite(t.scale) and MIN_SCALE <= t.scale <= MAX_SCALE):
        raise ValueError(f"power scale {t.scale} is outside {MIN_SCALE:g} to {MAX_SCALE:g}: this receiver's model "
                         "inverts the transmitter's linear code with it (load the same weights on both sides)")
    if not (math.isfinite(t.score) and -1.0 - 1e-6 <= t.score <= 1.0 + 1e-6):
        raise ValueError(f"task score {t.score} is not a cosine similarity (a number from -1 to 1)")
    if task.sampled:
        cfg.check_work(*t.image_size, t.steps)
    check_allocation(t, cfg)
    model.dct_headers(t)


def check_allocation(t: Transmission, cfg: ModelConfig) -> None:
    """The linear code's per-image allocation: 2k finite numbers (k positive ratios, k variances >= 0) for a task
    this model fits it for, none otherwise."""
    expected = t.task in cfg.encoder.per_image_gains
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
    if not all(math.isfinite(r) and 0 < r <= MAX_SCALE for r in ratios) or \
            not all(math.isfinite(v) and 0 <= v <= MAX_SCALE for v in variances):
        raise ValueError(f"the linear code's per-image allocation must be ratios in (0, {MAX_SCALE:g}] and variances "
                         f"in [0, {MAX_SCALE:g}]")


@torch.no_grad()
def decode(model: Receiver, t: Transmission, y: torch.Tensor, h: torch.Tensor | None, noise_var: float,
           on_step=None) -> torch.Tensor:
    """y (n,) complex received symbols (+ h (n,) when told) -> image (3, H, W) in [0, 1] or labels (H, W) long."""
    device = next(model.parameters()).device
    out = model.receive(t, y[None].to(device), None if h is None else h[None].to(device),
                        torch.tensor([noise_var], device=device), on_step)
    return out[0]


def render(output: torch.Tensor, t: Transmission, model: Receiver) -> dict:
    """The output as the result's fields (the task table's ``output``): an image as PNG (with the diffusion steps
    it took when the task samples), or a label map, its colours and its class names."""
    cfg = model.cfg
    task = tasks.get(t.task)
    if not task.labelled:
        return {"image_png": encode_png(to_pil(output)),
                "diffusion_steps": (t.steps or cfg.diffusion.sample_steps) if task.sampled else 0}
    labels = output.cpu().numpy().astype(np.uint8)  # (H, W) class indices
    return {"labels_png": encode_png(Image.fromarray(labels, mode="L")),
            "colour_png": encode_png(Image.fromarray(colourise(labels, cfg.seg.num_classes), mode="RGB")),
            "class_names": list(cfg.seg.class_names)}
