"""JSCC encoder (paper Sec. IV-A): one encoder for both tasks.

::

    image I (B,3,H,W) --space-to-depth x4--> (B,48,H/4,W/4) --+
                                                              concat -> conv3x3 -> residual block
    feature f (B,Cf,H/4,W/4) ---------------------------------+        -> [strided conv3x3] x n_down
                                                                       -> (B, 2c, H/s, W/s) -> complex x (B, c*H/s*W/s)
                                                                       -> unit average power per complex symbol

The symbol channels c follow from the CBR: c = CBR * 3 * s^2 for total stride s.

The convolutional path adds to a linear analog code of
s x s patches (``shared.analog.AnalogEncoder``: principal components with SoftCast's power
allocation, started from a fit when one is given) through a gate that starts at zero, so an
untrained encoder sends exactly the linear code and training learns what to add. The scale
that brings a transmission to unit power is returned with it: the receiver's side information.

With ``snr_gate`` the gate is also a function of the SNR the transmission is sent at, one per task
(``SNRGate``): the learned path costs the linear code power and adds interference its decoder must
undo, which pays at low SNR and not at high (the diagnosis behind the linear path), so the transmitter, which knows
the SNR it asks the channel for, learns how much of it to send at each SNR.

For the tasks in ``per_image_gains`` the linear code's allocation is fitted to each image
(SoftCast, ``shared.analog.per_image_allocation``) before the learned path is added; the allocation
(ratio and variances per component) is returned as side information with the scale.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared import tasks
from shared.analog import AnalogEncoder, PatchPCA, per_image_allocation
from shared.config import EncoderConfig
from shared.layers import ResidualBlock
from shared.symbols import to_complex, unit_power

# Adam moves a weight by about the learning rate per step; scaling the gate network's output lets its
# log-gain travel about one unit in a few hundred steps at fine-tuning rates (2e-4)
LOG_GAIN_SCALE = 4.0


class SNRGate(nn.Module):
    """snr_db (B,) -> a per-channel gain (B, C, 1, 1) on the learned path, exp of a small MLP of the SNR.

    Its last layer starts at zero: the gain is 1 at every SNR (the plain gate) until training moves it."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.GELU(), nn.Linear(hidden, channels))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, snr_db: torch.Tensor) -> torch.Tensor:
        log_gain = self.net((snr_db.float() / 10.0)[:, None]) * LOG_GAIN_SCALE  # (B, C)
        return log_gain.exp()[:, :, None, None]


class JSCCEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, feature_channels: int, pca: PatchPCA | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.symbol_channels = cfg.symbol_channels
        self.stem = nn.Conv2d(3 * 16 + feature_channels, cfg.hidden, 3, padding=1)
        self.res = ResidualBlock(cfg.hidden)
        down: list[nn.Module] = []
        for i in range(cfg.n_down):
            last = i == cfg.n_down - 1
            out = 2 * self.symbol_channels if last else cfg.hidden
            down.append(nn.Conv2d(cfg.hidden, out, 3, stride=2, padding=1))
            if not last:
                down += [nn.GELU(), ResidualBlock(cfg.hidden)]
        self.down = nn.Sequential(*down)
        self.analog = AnalogEncoder(cfg.stride, 2 * self.symbol_channels, pca)
        # ReZero gate: the learned path starts silent (the linear code alone) and grows by at most the
        # learning rate per Adam step, as far as the end-to-end loss asks for it
        self.gate = nn.Parameter(torch.zeros(()))
        self.snr_gate = None
        if cfg.snr_gate:
            # from its own seed: adding the gate does not shift the random start of every layer built after it,
            # so one seed gives the same model with and without it
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.snr_gate = nn.ModuleDict({task: SNRGate(2 * self.symbol_channels) for task in tasks.names()})

    def forward(self, image: torch.Tensor, feature: torch.Tensor, task: str | None = None,
                snr_db: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """image (B,3,H,W), feature (B,Cf,H/4,W/4); H, W multiples of the stride; the task and the SNR (B,)
        it is sent at (for ``snr_gate``) -> x (B, c, H/s, W/s) complex with unit average power per
        transmission, its scale alpha (B,), and the per-image allocation (B, 2, 2c) for the tasks in
        ``per_image_gains`` (else None)."""
        z = torch.cat([F.pixel_unshuffle(image * 2.0 - 1.0, 4), feature], dim=1)  # (B, 48+Cf, H/4, W/4)
        z = self.res(self.stem(z))  # (B, hidden, H/4, W/4)
        z = self.down(z)  # (B, 2c, H/s, W/s)
        allocation = None
        gate = self.gate
        if self.snr_gate is not None:
            if task not in self.snr_gate or snr_db is None:
                raise ValueError(f"this encoder gates its learned path by task and SNR: give one of "
                                 f"{', '.join(self.snr_gate)} and the SNR (B,) in dB, got {task!r}, {snr_db!r}")
            gate = gate * self.snr_gate[task](snr_db.to(z.device).expand(z.shape[0]))  # (B, 2c, 1, 1)
        t = self.analog(image)  # (B, 2c, h, w)
        if task in self.cfg.per_image_gains:
            allocation = per_image_allocation(t, self.analog.gains())  # (B, 2, 2c)
            t = t * allocation[:, 0, :, None, None]
        z = t + gate * z  # the linear code plus what the network adds
        x, alpha = unit_power(to_complex(z))  # (B, c, h, w) complex, (B,)
        return x, alpha, allocation
