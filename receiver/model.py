"""The receiver's model: source KB + one decoder per task of the task table, received symbols in, the task's output
(an image or a label map) out."""

from __future__ import annotations

import importlib

import torch
from torch import nn

from receiver.received import Received, received_grid
from receiver.source_kb import ReceiverSourceKB
from shared import tasks
from shared.analog import AnalogDecoder, PatchPCA, unbiased_view
from shared.channel import Channel, Reception, receive
from shared.config import ModelConfig
from shared.dct_code import ChunkDCT, DCTHeader
from shared.seeding import derive_seed
from shared.symbols import snr_feature
from shared.transmission import Transmission


class Receiver(nn.Module):
    def __init__(self, cfg: ModelConfig, pca: PatchPCA | None = None) -> None:
        """`pca` starts the inverse of the transmitter's linear path from a fit; a checkpoint replaces it."""
        super().__init__()
        self.cfg = cfg
        c = cfg.encoder.symbol_channels
        y_ch = 3 * c
        self.analog = AnalogDecoder(cfg.encoder.stride, 2 * c, pca)
        self.dct = ChunkDCT.of(cfg.encoder)
        self.source_kb = ReceiverSourceKB(cfg.rx_kb, y_ch)
        for task in tasks.all_tasks():  # receiver.<task>.*: each task's decoder, as the task table builds it
            module, function = task.decoder.split(":")
            build = getattr(importlib.import_module(module), function)
            self.add_module(task.name, build(cfg, y_ch, self.source_kb.out_channels(task.name)))

    def view(self, reception: Reception, grid: tuple[int, int, int], scale: torch.Tensor,
             allocation: torch.Tensor | None = None, dct: list[DCTHeader] | None = None) -> Received:
        """What the channel gave (``shared.channel.receive``) on the symbol grid (c, h, w) -> Received.

        The LMMSE estimate of the linear code needs the transmitter's power scale (B,), and its per-image
        allocation (B, 2, 2c) when it sent one: the estimate is then of the code at its fitted gains, with this
        image's variances as the prior, so the networks after it see the same code.

        A transmission of the DCT code (its headers, one per image) is decoded to its LMMSE image, which the
        networks see in the patch code's terms (``AnalogDecoder.analyse``) beside each image's mean SNR."""
        if dct is not None:
            symbols, noise = reception.unbiased()
            base = self.dct.decode_grid(symbols, noise, scale.to(symbols.device), dct,
                                        reception.estimate_share)  # (B, 3, Hp, Wp)
            linear = self.analog.analyse(base)  # (B, 2c, h, w)
            snr = snr_feature(reception.snr_db.mean(1)).view(-1, 1, 1, 1).expand(-1, grid[0], *linear.shape[-2:])
            return Received(torch.cat([linear, snr], dim=1), linear, base)
        r, noise = unbiased_view(reception, grid)
        linear = self.analog.estimate(r, noise, scale.to(r.device),
                                      None if allocation is None else allocation.to(r.device))
        return Received(received_grid(reception.symbols, reception.snr_db, grid), linear)

    def decoder(self, task: str) -> nn.Module:
        return getattr(self, tasks.get(task).name)

    @torch.no_grad()
    def decode(self, received: Received, snr_db: torch.Tensor, task: str, image_size: tuple[int, int],
               steps: int | None = None, generator: torch.Generator | None = None, on_step=None) -> torch.Tensor:
        """The task's decoder: an image (B, 3, H, W) in [0, 1] or a label map (B, H, W) long, cut to the image."""
        height, width = image_size
        decoder = self.decoder(task)
        feats = self.source_kb(received.grid, task)
        out = decoder.decode(received, feats, snr_db, steps, generator, on_step, self.analog)
        return out[..., :height, :width]

    @torch.no_grad()
    def receive(self, t: Transmission, y: torch.Tensor, h: torch.Tensor | None, noise_var: torch.Tensor,
                on_step=None) -> torch.Tensor:
        """One transmission's y (B, n) complex (+ what it knows of h: exact or estimated) -> the receiver's
        view -> the task's decoder. An estimate's error variance follows from the pilot pattern and the noise."""
        spec = t.channel
        err = Channel.of(spec).error_var(y.shape[1], noise_var.to(y.device))
        reception = receive(y, h if spec.knows_h else None, noise_var, spec.snr_db, err)
        scale = torch.full((y.shape[0],), t.scale, device=y.device)
        allocation = (torch.tensor(t.allocation, device=y.device).view(1, 2, -1).expand(y.shape[0], -1, -1)
                      if t.allocation else None)
        dct = self.dct_headers(t)
        received = self.view(reception, t.grid, scale, allocation, None if dct is None else dct * y.shape[0])
        snr = torch.full((y.shape[0],), float(spec.snr_db), device=y.device)
        generator = torch.Generator(device=y.device).manual_seed(derive_seed(t.seed, "sampler"))
        return self.decode(received, snr, t.task, t.image_size, t.steps or None, generator, on_step)

    def dct_headers(self, t: Transmission) -> list[DCTHeader] | None:
        """The DCT code's side information of a transmission of a task sent with it (``EncoderConfig.dct_tasks``)
        as one header, None for another task; ValueError, a message a person can act on, when it is not what
        this model's transmitter sends (or is there for a task sent otherwise)."""
        if t.task not in self.cfg.encoder.dct_tasks:
            if t.dct_means or t.dct_chunks or t.dct_codes:
                raise ValueError(f"the transmitter sent the DCT code's side information for {t.task}, which this "
                                 "receiver's model sends with its patch code: load the same weights on both sides")
            return None
        c, h, w = t.grid
        s = self.cfg.encoder.stride
        return [self.dct.header_from_fields(t.dct_means, t.dct_chunks, t.dct_codes, (h * s, w * s), c * h * w,
                                            t.channel.snr_db)]
