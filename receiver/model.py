"""The receiver's model: source KB + both task decoders, received symbols in, image or label map out."""

from __future__ import annotations

import torch
from torch import nn

from receiver.reconstruction import ReconstructionDecoder
from receiver.segmentation import SegmentationDecoder
from receiver.source_kb import ReceiverSourceKB
from shared.channel import ChannelSpec, receiver_view
from shared.config import ModelConfig
from shared.seeding import derive_seed
from shared.task_kb import RECONSTRUCTION, SEGMENTATION

SNR_SCALE_DB = 20.0  # SNR maps enter the networks as dB / 20


def received_grid(symbols: torch.Tensor, snr_map_db: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """Receiver's view on the symbol grid: (B, n) complex + (B, n) SNR dB -> (B, 3c, h, w) real."""
    c, h, w = grid
    b = symbols.shape[0]
    s = symbols.reshape(b, c, h, w)
    snr = snr_map_db.reshape(b, c, h, w) / SNR_SCALE_DB
    return torch.cat([s.real, s.imag, snr], dim=1).float()


class Receiver(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.encoder.symbol_channels
        y_ch = 3 * c
        self.source_kb = ReceiverSourceKB(cfg.rx_kb, y_ch)
        self.reconstruction = ReconstructionDecoder(cfg.dit, cfg.diffusion, c, y_ch,
                                                    self.source_kb.out_channels(RECONSTRUCTION), cfg.encoder.stride)
        self.segmentation = SegmentationDecoder(cfg.seg, y_ch + self.source_kb.out_channels(SEGMENTATION),
                                                cfg.encoder.stride)

    def segment_logits(self, y_grid: torch.Tensor) -> torch.Tensor:
        """(B, 3c, h, w) -> logits (B, K, h*s, w*s)."""
        feats = self.source_kb(y_grid, SEGMENTATION)
        return self.segmentation(torch.cat([y_grid, feats], dim=1))

    @torch.no_grad()
    def decode(self, y_grid: torch.Tensor, snr_db: torch.Tensor, task: str, image_size: tuple[int, int],
               steps: int | None = None, generator: torch.Generator | None = None, on_step=None) -> torch.Tensor:
        """Reconstruction: image (B, 3, H, W) in [0, 1]. Segmentation: label map (B, H, W) long."""
        height, width = image_size
        if task == RECONSTRUCTION:
            feats = self.source_kb(y_grid, RECONSTRUCTION)
            steps = self.cfg.diffusion.sample_steps if steps is None else steps
            image = self.reconstruction.sample(y_grid, feats, snr_db, steps, generator, on_step=on_step)
            return image[..., :height, :width]
        if task == SEGMENTATION:
            return self.segment_logits(y_grid).argmax(dim=1)[..., :height, :width]
        raise ValueError(f"unknown task {task!r}; known tasks: {RECONSTRUCTION}, {SEGMENTATION}")

    @torch.no_grad()
    def receive(self, y: torch.Tensor, h: torch.Tensor | None, noise_var: torch.Tensor, spec: ChannelSpec,
                grid: tuple[int, int, int], image_size: tuple[int, int], task: str, seed: int,
                steps: int | None = None, on_step=None) -> torch.Tensor:
        """The receiver's step: y (B, n) complex (+ h when told) -> its view on the symbol grid -> decoder."""
        symbols, snr_map = receiver_view(y, h, noise_var, spec.csi, spec.snr_db)
        y_grid = received_grid(symbols, snr_map, grid)
        snr = torch.full((y_grid.shape[0],), float(spec.snr_db), device=y_grid.device)
        generator = torch.Generator(device=y_grid.device).manual_seed(derive_seed(seed, "sampler"))
        return self.decode(y_grid, snr, task, image_size, steps, generator, on_step)
