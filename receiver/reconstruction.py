"""JSCC decoder for image reconstruction (paper Sec. IV-B): a conditional diffusion model.

::

    y_grid, f~_R (B,*,h,w) --cond--> DiT denoiser --DDIM, `steps` iterations from z_T ~ N(0,I)--> z0_hat
    z0_hat (B,2c,h,w) + f~_R --> upsampling to full resolution --> residual block --> image

The transmitter sends a linear analog code plus what its networks add, and the receiver first inverts the code
(``shared.analog.AnalogDecoder``: per-component LMMSE with the SNR map and the power scale).
Then:

* the diffusion state z0 is the transmitted code t, scaled to unit variance per component (for a task sent
  with the DCT code, ``EncoderConfig.dct_tasks``, the image in the patch code's terms: the DiT starts from the
  DCT code's LMMSE image analysed, and the refiner from that image plus the synthesis of what the DiT changed); the
  DiT is conditioned on y, f~_R and the LMMSE estimate z_lin, and predicts z0 as z_lin plus a
  correction (adaLN-Zero: an untrained DiT returns z_lin itself);
* the upsampling stage is ``Refiner``: the linear synthesis of z0_hat gives an image estimate,
  residual blocks at stride 4 (pixel-unshuffled, so every pixel has a weight of its own) take it
  with the grid's features lifted to that resolution and add a correction, and a residual block at
  full resolution finishes it. Its output layers start at zero: an untrained decoder returns the
  linear code's reconstruction, so training starts at the training-free floor and can only learn
  what the linear part misses.

Training (``loss``): a random step t, z_t from the forward process, the DiT's x0 prediction;
loss = the paper's MSE between the original and the reconstructed image (eq. 5) +
``latent_loss_weight`` * MSE(z0_hat, z0). With ``log_mse`` (every preset now) eq. 5 is taken per
image and the loss is the mean of its logarithm, i.e. the batch's mean PSNR: a batch mixes SNRs
from -2 to 25 dB, and with the plain mean of eq. 5 the low-SNR images' large errors set the
gradient (measured: +0.8 dB at 1 dB but -1.2 dB at 13 dB against the linear code after 250 steps).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from receiver.diffusion import NoiseSchedule, ddim_sample
from receiver.dit import DiT
from receiver.received import Received
from shared.analog import AnalogDecoder
from shared.config import DiffusionConfig, DiTConfig, ModelConfig
from shared.layers import ResidualBlock
from shared.symbols import to_real
from shared.tasks import TaskBatch

LOG_MSE_SCALE = 10 ** -2.5  # the MSE at 25 dB PSNR: log-MSE's gradient equals eq. 5's there


class Refiner(nn.Module):
    """Upsampling: linear image estimate + grid features -> image (see the module doc)."""

    def __init__(self, grid_channels: int, stride: int, channels: int, blocks: int, refine_channels: int) -> None:
        super().__init__()
        if stride % 4:
            raise ValueError(f"the refiner works at stride 4; the symbol grid's stride {stride} is not a multiple")
        up = stride // 4
        self.lift = nn.Sequential(nn.Conv2d(grid_channels, channels, 1), nn.GELU(),
                                  nn.Conv2d(channels, channels * up * up, 1), nn.PixelShuffle(up))
        self.stem = nn.Conv2d(48 + channels, channels, 3, padding=1)
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.out = nn.Conv2d(channels, 48, 3, padding=1)
        self.refine = nn.Sequential(nn.Conv2d(3, refine_channels, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(refine_channels, 3, 3, padding=1))
        # ReZero gates: the refiner starts as the identity on the linear estimate, and a gate moves by
        # at most the learning rate per Adam step (a zero-initialised output layer would move every one
        # of its weights by that much at once: the whole image shifts in the first steps)
        self.gates = nn.Parameter(torch.zeros(2))

    def forward(self, image: torch.Tensor, grid_feats: torch.Tensor) -> torch.Tensor:
        """image (B,3,H,W) linear estimate, grid_feats (B,C,H/s,W/s) -> image (B,3,H,W)."""
        z = torch.cat([F.pixel_unshuffle(image - 0.5, 4), self.lift(grid_feats)], dim=1)  # (B, 48+ch, H/4, W/4)
        img = image + self.gates[0] * F.pixel_shuffle(self.out(self.blocks(self.stem(z))), 4)
        return img + self.gates[1] * self.refine(img)  # residual block at full resolution


class ReconstructionDecoder(nn.Module):
    def __init__(self, dit_cfg: DiTConfig, diff_cfg: DiffusionConfig, symbol_channels: int,
                 y_channels: int, feature_channels: int, stride: int) -> None:
        super().__init__()
        self.diff_cfg = diff_cfg
        self.state_channels = 2 * symbol_channels
        self.dit = DiT(dit_cfg, self.state_channels, y_channels + feature_channels + self.state_channels)
        self.schedule = NoiseSchedule(diff_cfg.timesteps, diff_cfg.schedule)
        self.synthesis = Refiner(self.state_channels + feature_channels, stride, dit_cfg.decoder_channels,
                                 dit_cfg.decoder_blocks, dit_cfg.refine_channels)

    @staticmethod
    def _std(analog: AnalogDecoder) -> torch.Tensor:
        """Per-component standard deviation of the linear code's values, (1, 2c, 1, 1)."""
        return analog.prior.mul(0.5).exp().view(1, -1, 1, 1)

    def _parts(self, received: Received, feats: torch.Tensor,
               analog: AnalogDecoder) -> tuple[torch.Tensor, torch.Tensor]:
        """(DiT condition, the state the DiT corrects: the LMMSE estimate z_lin at unit variance)."""
        z_lin = received.linear / self._std(analog)  # (B, 2c, h, w)
        return torch.cat([received.grid, feats, z_lin], dim=1), z_lin

    def _image(self, z0: torch.Tensor, z_lin: torch.Tensor, feats: torch.Tensor, analog: AnalogDecoder,
               base: torch.Tensor | None) -> torch.Tensor:
        """The image the refiner starts from: the code's synthesis of z0, or, for the DCT code, its LMMSE image
        plus the synthesis of what the DiT changed (z0 - z_lin) -> the refined image (B, 3, H, W)."""
        if base is None:
            linear = analog.synthesise(z0 * self._std(analog))  # (B, 3, H, W)
        else:
            linear = base + analog.synth((z0 - z_lin) * self._std(analog))
        return self.synthesis(linear, torch.cat([z0, feats], dim=1))

    def loss(self, received: Received, feats: torch.Tensor, snr_db: torch.Tensor, x: torch.Tensor,
             scale: torch.Tensor, image: torch.Tensor, generator: torch.Generator | None,
             analog: AnalogDecoder) -> dict[str, torch.Tensor]:
        """Training loss for one batch; `x` is the transmitted symbol grid with its scale from the code, (B,),
        or per component (B, 2c) or (B, 1) (``shared.analog.code_scale``), `image` the (padded) original."""
        if received.base is None:
            scale = scale.view(-1, 1) if scale.ndim == 1 else scale  # the code's values at their fitted gains,
            z0 = (to_real(x) / scale[:, :, None, None] / self._std(analog)).detach()  # per component at unit variance
        else:  # the DCT code: the original image in the patch code's terms
            z0 = (analog.analyse(image) / self._std(analog)).detach()
        cond, z_lin = self._parts(received, feats, analog)
        t = self.schedule.sample_t(z0.shape[0], generator, z0.device, self.diff_cfg.regression_share)  # (B,)
        noise = torch.randn(z0.shape, generator=generator, device=z0.device)
        z_t = self.schedule.q_sample(z0, t, noise)
        z0_hat = z_lin + self.dit(z_t, t, cond, snr_db)  # (B, 2c, h, w)
        recon = self._image(z0_hat, z_lin, feats, analog, received.base)  # (B, 3, H, W)
        per_image = (recon - image).pow(2).flatten(1).mean(1)  # (B,) eq. 5 per image
        image_mse = per_image.mean()
        latent_mse = F.mse_loss(z0_hat, z0)
        if self.diff_cfg.log_mse:  # the mean PSNR over the batch, scaled to eq. 5's size at 25 dB
            image_loss = LOG_MSE_SCALE * per_image.clamp_min(1e-10).log().mean()
        else:
            image_loss = image_mse
        total = image_loss + self.diff_cfg.latent_loss_weight * latent_mse
        return {"loss": total, "image_mse": image_mse, "latent_mse": latent_mse, "recon": recon}

    def train_loss(self, batch: TaskBatch, received: Received, feats: torch.Tensor, x: torch.Tensor,
                   scale: torch.Tensor, generator: torch.Generator | None,
                   analog: AnalogDecoder) -> dict[str, torch.Tensor]:
        """The task table's training contract (``shared.tasks``): `loss` on the batch's images."""
        out = self.loss(received, feats, batch.snr_db, x, scale, batch.images, generator, analog)
        return {"loss": out["loss"], "image": out["recon"], "latent_mse": out["latent_mse"]}

    @torch.no_grad()
    def sample(self, received: Received, feats: torch.Tensor, snr_db: torch.Tensor, steps: int,
               analog: AnalogDecoder, generator: torch.Generator | None = None, eta: float | None = None,
               on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Iterative denoising then synthesis -> image (B, 3, H, W) in [0, 1]."""
        cond, z_lin = self._parts(received, feats, analog)
        b, _, h, w = received.grid.shape
        z0 = ddim_sample(lambda z, t: z_lin + self.dit(z, t, cond, snr_db), self.schedule,
                         (b, self.state_channels, h, w), steps, generator, received.grid.device,
                         self.diff_cfg.eta if eta is None else eta, on_step)
        return self._image(z0, z_lin, feats, analog, received.base).clamp(0.0, 1.0)

    def decode(self, received: Received, feats: torch.Tensor, snr_db: torch.Tensor, steps: int | None,
               generator: torch.Generator | None, on_step: Callable[[int, int], None] | None,
               analog: AnalogDecoder) -> torch.Tensor:
        """The task table's decoder call: `steps` DDIM steps (None: the config's default) -> image (B, 3, H, W)."""
        steps = self.diff_cfg.sample_steps if steps is None else steps
        return self.sample(received, feats, snr_db, steps, analog, generator, on_step=on_step)


def build(cfg: ModelConfig, y_channels: int, feature_channels: int) -> ReconstructionDecoder:
    """The reconstruction task's decoder (``shared.tasks``)."""
    return ReconstructionDecoder(cfg.dit, cfg.diffusion, cfg.encoder.symbol_channels, y_channels, feature_channels,
                                 cfg.encoder.stride)
