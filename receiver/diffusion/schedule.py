"""Variance-preserving noise schedule: z_t = sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps."""

from __future__ import annotations

import math

import torch


class NoiseSchedule:
    """Discrete schedule over t = 0..T-1 ('cosine' of Nichol & Dhariwal, or DDPM's 'linear')."""

    def __init__(self, timesteps: int = 1000, kind: str = "cosine") -> None:
        self.timesteps = timesteps
        if kind == "cosine":
            s = 0.008
            steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
            f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
            abar = (f / f[0])[1:]
            abar = abar.clamp(min=1e-5)
        elif kind == "linear":
            betas = torch.linspace(1e-4 * 1000 / timesteps, 0.02 * 1000 / timesteps, timesteps, dtype=torch.float64)
            abar = torch.cumprod(1 - betas, dim=0)
        else:
            raise ValueError(f"unknown schedule {kind!r}; known: cosine, linear")
        self.alphas_cumprod = abar.float()  # (T,)

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        """abar_t for integer t (B,), broadcastable to (B, 1, 1, 1)."""
        return self.alphas_cumprod.to(t.device)[t].view(-1, 1, 1, 1)

    def q_sample(self, z0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Forward process: (B, C, h, w) clean -> noisy at step t."""
        a = self.abar(t)
        return a.sqrt() * z0 + (1 - a).sqrt() * noise

    def sample_t(self, batch: int, generator: torch.Generator | None, device, last_share: float = 0.0) -> torch.Tensor:
        """Training steps (B,): uniform over 0..T-1, except a `last_share` of them at T-1 (pure noise)."""
        t = torch.randint(0, self.timesteps, (batch,), generator=generator, device=device)
        if last_share > 0:
            last = torch.rand(batch, generator=generator, device=device) < last_share
            t = torch.where(last, torch.full_like(t, self.timesteps - 1), t)
        return t
