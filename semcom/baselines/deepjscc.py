"""Learned single-task JSCC baselines: Deep JSCC and ADJSCC.

* **Deep JSCC** (Bourtsoulatze, Kurka, Gündüz 2019): five 5x5 conv layers with PReLU
  (two of stride 2) -> c complex channels at stride 4, unit power; the decoder mirrors
  it with transposed convolutions and a sigmoid.
* **ADJSCC** (Xu et al. 2021): the same trunk with GDN and an attention feature (AF)
  module after each layer: channel-wise pooling + the SNR -> two FC layers -> sigmoid
  scale per channel, so one model adapts to the SNR.

Both share the project's channel and the receiver view (MMSE-equalised y with CSI).
Interface (used by training and ``semcom eval``)::

    x = model.encode(image (B,3,H,W), snr_db (B,)) -> (B, c, H/4, W/4) complex, E|x|^2 = 1
    image = model.decode(y (B, c, H/4, W/4) complex, snr_db (B,)) -> (B,3,H,W) in [0, 1]
"""

from __future__ import annotations


import torch
from torch import nn

from shared.symbols import encode_symbols, snr_feature, symbol_channels, to_real

STRIDE = 4


class GDN(nn.Module):
    """Generalised divisive normalisation (Ballé et al.): x / sqrt(beta + gamma * x^2); inverse multiplies."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma.abs().view(*self.gamma.shape, 1, 1)
        norm = torch.sqrt(nn.functional.conv2d(x * x, gamma, self.beta.abs() + 1e-6))  # (B, C, H, W)
        return x * norm if self.inverse else x / norm


class AFModule(nn.Module):
    """ADJSCC's attention feature module: scale channels from (mean feature, SNR)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels + 1, channels // 2 + 1), nn.ReLU(),
                                nn.Linear(channels // 2 + 1, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        ctx = torch.cat([x.mean(dim=(2, 3)), snr_feature(snr_db[:, None])], dim=1)  # (B, C+1)
        return x * self.fc(ctx)[:, :, None, None]


class _Trunk(nn.Module):
    """Five conv (or transposed-conv) layers; optional GDN and AF modules."""

    def __init__(self, chans: list[int], strides: list[int], transpose: bool, adaptive: bool) -> None:
        super().__init__()
        self.adaptive = adaptive
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        self.afs = nn.ModuleList()
        for i, s in enumerate(strides):
            cin, cout = chans[i], chans[i + 1]
            if transpose:
                self.layers.append(nn.ConvTranspose2d(cin, cout, 5, stride=s, padding=2, output_padding=s - 1))
            else:
                self.layers.append(nn.Conv2d(cin, cout, 5, stride=s, padding=2))
            last = i == len(strides) - 1
            self.norms.append(GDN(cout, inverse=transpose) if adaptive and not last else nn.Identity())
            self.acts.append(nn.Identity() if last else nn.PReLU(cout))
            self.afs.append(AFModule(cout) if adaptive and not last else None)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        for conv, norm, act, af in zip(self.layers, self.norms, self.acts, self.afs):
            x = act(norm(conv(x)))
            if af is not None:
                x = af(x, snr_db)
        return x


class DeepJSCC(nn.Module):
    name = "deepjscc"
    adaptive = False
    stride = STRIDE

    def __init__(self, cbr: str = "1/16", width: int = 32) -> None:
        super().__init__()
        self.cbr = cbr
        self.c = symbol_channels(cbr, STRIDE)
        enc = [3, width // 2, width, width, width, 2 * self.c]
        self.encoder = _Trunk(enc, [2, 2, 1, 1, 1], transpose=False, adaptive=self.adaptive)
        self.decoder = _Trunk(enc[::-1][:-1] + [3], [1, 1, 1, 2, 2], transpose=True, adaptive=self.adaptive)

    def encode(self, image: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return encode_symbols(self.encoder(image * 2 - 1, snr_db))  # (B, c, H/4, W/4)

    def decode(self, y: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        z = to_real(y).float()  # (B, 2c, h, w)
        return torch.sigmoid(self.decoder(z, snr_db))  # (B, 3, 4h, 4w)


class ADJSCC(DeepJSCC):
    name = "adjscc"
    adaptive = True
