"""JSCC decoder for image reconstruction (paper Sec. IV-B): a conditional diffusion model.

::

    y_grid, f~_R (B,*,h,w) --cond--> DiT denoiser --DDIM, `steps` iterations from z_T ~ N(0,I)--> z0_hat
    z0_hat (B,2c,h,w) + f~_R --> upsampling (x2 per stage, to full resolution) --> residual block --> image

The diffusion state z0 is the transmitted symbol grid, sqrt(2)*[Re x, Im x]
(unit variance per real component): the denoiser regenerates the clean channel
input from the received signal and the receiver's features, and the upsampler
turns it into the image. Training (``loss``): a random step t, z_t from the
forward process, the DiT's x0 prediction; loss = the paper's MSE between the
original and the reconstructed image (eq. 5) + ``latent_loss_weight`` * MSE(z0_hat, z0).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from receiver.diffusion import NoiseSchedule, ddim_sample
from receiver.dit import DiT
from shared.config import DiffusionConfig, DiTConfig
from shared.layers import ResidualBlock


class ImageSynthesis(nn.Module):
    """Upsampling from the symbol grid to full resolution, then a residual block on the image."""

    def __init__(self, in_channels: int, stride: int, up_channels: tuple[int, ...], refine_channels: int) -> None:
        super().__init__()
        n_up = int(math.log2(stride))
        if 2**n_up != stride or len(up_channels) != n_up:
            raise ValueError(f"need one up_channels entry per x2 stage: stride {stride} -> {n_up} entries")
        chans = list(up_channels) + [refine_channels]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, chans[0], 3, padding=1), ResidualBlock(chans[0]))
        stages: list[nn.Module] = []
        for i in range(n_up):
            layers: list[nn.Module] = [nn.Conv2d(chans[i], 4 * chans[i + 1], 3, padding=1), nn.PixelShuffle(2), nn.GELU()]
            if stride // 2 ** (i + 1) >= 4:  # residual blocks where the grid is still coarse
                layers.append(ResidualBlock(chans[i + 1]))
            stages.append(nn.Sequential(*layers))
        self.up = nn.Sequential(*stages)
        self.to_rgb = nn.Conv2d(chans[-1], 3, 3, padding=1)
        self.refine = nn.Sequential(nn.Conv2d(3, refine_channels, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(refine_channels, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img = self.to_rgb(self.up(self.stem(x))) + 0.5  # (B, 3, H, W), centred on mid-grey
        return img + self.refine(img)  # residual block at full resolution


class ReconstructionDecoder(nn.Module):
    def __init__(self, dit_cfg: DiTConfig, diff_cfg: DiffusionConfig, symbol_channels: int,
                 y_channels: int, feature_channels: int, stride: int) -> None:
        super().__init__()
        self.diff_cfg = diff_cfg
        self.state_channels = 2 * symbol_channels
        self.dit = DiT(dit_cfg, self.state_channels, y_channels + feature_channels)
        self.schedule = NoiseSchedule(diff_cfg.timesteps, diff_cfg.schedule)
        self.synthesis = ImageSynthesis(self.state_channels + feature_channels, stride,
                                        dit_cfg.up_channels, dit_cfg.refine_channels)

    @staticmethod
    def state_from_symbols(x: torch.Tensor) -> torch.Tensor:
        """Complex symbol grid (B, c, h, w) -> diffusion state (B, 2c, h, w), unit variance per component."""
        return math.sqrt(2.0) * torch.cat([x.real, x.imag], dim=1)

    def loss(self, y_grid: torch.Tensor, feats: torch.Tensor, snr_db: torch.Tensor, x: torch.Tensor,
             image: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Training loss for one batch; `x` is the transmitted symbol grid, `image` the (padded) original."""
        z0 = self.state_from_symbols(x).detach()  # (B, 2c, h, w)
        t = self.schedule.sample_t(z0.shape[0], generator, z0.device)  # (B,)
        noise = torch.randn(z0.shape, generator=generator, device=z0.device)
        z_t = self.schedule.q_sample(z0, t, noise)
        cond = torch.cat([y_grid, feats], dim=1)
        z0_hat = self.dit(z_t, t, cond, snr_db)  # (B, 2c, h, w)
        recon = self.synthesis(torch.cat([z0_hat, feats], dim=1))  # (B, 3, H, W)
        image_mse = F.mse_loss(recon, image)
        latent_mse = F.mse_loss(z0_hat, z0)
        total = image_mse + self.diff_cfg.latent_loss_weight * latent_mse
        return {"loss": total, "image_mse": image_mse, "latent_mse": latent_mse, "recon": recon}

    @torch.no_grad()
    def sample(self, y_grid: torch.Tensor, feats: torch.Tensor, snr_db: torch.Tensor, steps: int,
               generator: torch.Generator | None = None, eta: float | None = None,
               on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Iterative denoising then synthesis -> image (B, 3, H, W) in [0, 1]."""
        cond = torch.cat([y_grid, feats], dim=1)
        b, _, h, w = y_grid.shape
        z0 = ddim_sample(lambda z, t: self.dit(z, t, cond, snr_db), self.schedule, (b, self.state_channels, h, w),
                         steps, generator, y_grid.device, self.diff_cfg.eta if eta is None else eta, on_step)
        return self.synthesis(torch.cat([z0, feats], dim=1)).clamp(0.0, 1.0)
