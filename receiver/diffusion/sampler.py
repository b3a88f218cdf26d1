"""DDIM sampling (Song et al., 2021) with an x0-predicting network.

``denoise(z_t, t) -> z0_hat`` is any callable; the sampler knows nothing about it.
"""

from __future__ import annotations

from typing import Callable

import torch

from receiver.diffusion.schedule import NoiseSchedule

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """`steps` evenly spaced timesteps from T-1 down to 0 (the last step always lands on t = 0)."""
    if steps < 1:
        raise ValueError(f"need at least one sampling step, got {steps}")
    steps = min(steps, timesteps)
    ts = torch.linspace(timesteps - 1, 0, steps).round().long().tolist()
    return list(dict.fromkeys(ts))  # unique, order kept


def ddim_sample(denoise: Denoiser, schedule: NoiseSchedule, shape: tuple[int, ...], steps: int,
                generator: torch.Generator | None, device, eta: float = 0.0,
                on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Iterative denoising from pure noise z_T ~ N(0, I) to z_0; returns the last x0 prediction (shape)."""
    ts = ddim_timesteps(schedule.timesteps, steps)
    z = torch.randn(shape, generator=generator, device=device)
    z0_hat = z
    for i, t in enumerate(ts):
        t_batch = torch.full((shape[0],), t, dtype=torch.long, device=device)
        z0_hat = denoise(z, t_batch)  # (B, C, h, w)
        if on_step is not None:
            on_step(i + 1, len(ts))
        if i == len(ts) - 1:
            break
        a_t = schedule.alphas_cumprod[t].item()
        a_prev = schedule.alphas_cumprod[ts[i + 1]].item()
        eps = (z - a_t**0.5 * z0_hat) / max(1 - a_t, 1e-8) ** 0.5
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
        dir_coef = max(1 - a_prev - sigma**2, 0.0) ** 0.5
        z = a_prev**0.5 * z0_hat + dir_coef * eps
        if sigma > 0:
            z = z + sigma * torch.randn(shape, generator=generator, device=device)
    return z0_hat
