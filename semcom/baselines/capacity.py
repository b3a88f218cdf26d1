"""Capacity reference: the best any separate source-channel scheme could do.

A modern intra codec (AVIF, AV1 intra, built into Pillow) gets the image at the largest
quality whose file fits the number of bits an ideal channel code could carry over the
same channel uses::

    bits = channel_uses * C,   channel_uses = H * W * 3 * CBR
    C = log2(1 + SNR)                    AWGN
    C = E_h[log2(1 + |h|^2 SNR)]         Rayleigh with CSI (ergodic capacity, h ~ CN(0, 1))

No noise is applied: at capacity, decoding is error-free. This is an upper reference,
not a system; the field draws it as "BPG + capacity" (here AVIF, the same class of codec).
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from shared.channel import Channel, ChannelSpec, receive
from shared.imageio import open_rgb, to_pil, to_tensor


@functools.lru_cache(maxsize=64)  # a fading model's is a Monte Carlo average: once per channel, not per image
def capacity_bits_per_use(spec: ChannelSpec, draws: int = 200_000) -> float:
    """Shannon capacity of one complex channel use (bits); infinite for the noiseless channel."""
    if spec.model == "noiseless":
        return math.inf
    snr = 10.0 ** (spec.snr_db / 10.0)
    if spec.model == "awgn":
        return math.log2(1.0 + snr)
    if spec.model == "rayleigh" and spec.csi == "perfect":
        gain = np.random.default_rng(0).exponential(1.0, draws)  # |h|^2 for h ~ CN(0, 1)
        return float(np.mean(np.log2(1.0 + gain * snr)))
    if not spec.knows_h:
        raise ValueError(f"the capacity reference assumes the receiver knows h on {spec.model} (--csi perfect or "
                         "estimated)")
    return _ergodic(spec, draws)


def _ergodic(spec: ChannelSpec, draws: int) -> float:
    """E log2(1 + SNR_eff) over the model's own draws (seeded: the same number every time): SNR_eff = |h|^2 / N0
    with h known, |h_est|^2 / (N0 + e) with h estimated (the standard lower bound for a receiver that treats its
    estimate's error as noise); per data symbol, so the pilots' channel uses cost the budget nothing more here
    than the data symbols they displace (``avif_at_capacity`` counts the data symbols only, as every system)."""
    import torch

    n = 6656  # two OFDM slots of 256 subcarriers' data; many fading blocks
    rows = max(400, draws // n)  # many independent draws: one OFDM draw is one realisation of the whole profile
    x = torch.ones(rows, n, dtype=torch.complex64)
    out = Channel.of(spec)(x, spec.snr_db, torch.Generator().manual_seed(0))
    seen = receive(out.y, out.known, out.noise_var, spec.snr_db, out.err_var)
    return float(torch.log2(1.0 + seen.snr.double()).mean())


def avif_bytes(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="AVIF", quality=quality, speed=6)
    return buf.getvalue()


def avif_at_budget(img: Image.Image, budget_bits: float) -> tuple[bytes, int] | None:
    """The largest-quality AVIF (0..100) that fits `budget_bits`; None if even quality 0 is too big."""
    lo, hi, best = 0, 100, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = avif_bytes(img, mid)
        if len(data) * 8 <= budget_bits:
            best, lo = (data, mid), mid + 1
        else:
            hi = mid - 1
    return best


@dataclass
class CapacityResult:
    image: torch.Tensor  # (3, H, W)
    quality: int | None  # AVIF quality used; None if nothing fitted (the mean image is shown)
    payload_bits: int
    budget_bits: float


def avif_at_capacity(image: torch.Tensor, cbr: float, spec: ChannelSpec,
                     mean_image: torch.Tensor | None = None) -> CapacityResult:
    """image (3, H, W) in [0, 1] -> the AVIF decode at the largest quality within the capacity budget."""
    h, w = image.shape[-2:]
    budget = math.floor(h * w * 3 * cbr) * capacity_bits_per_use(spec)
    best = avif_at_budget(to_pil(image), budget)
    if best is None:
        fallback = mean_image if mean_image is not None else torch.full_like(image, 0.5)
        return CapacityResult(fallback, None, 0, budget)
    data, quality = best
    return CapacityResult(to_tensor(open_rgb(data)), quality, len(data) * 8, budget)
