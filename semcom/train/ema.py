"""Exponential moving average of the trained weights (``semcom train --ema DECAY``).

Diffusion models are trained this way (DDPM, DiT: the averaged weights are the ones sampled from), and the
small batches that fit two CPU cores make the last weights of a run noisy: the average is what a checkpoint
holds (``model.safetensors``, what every loader reads), the raw weights go beside it (``raw/``) so that
``--resume`` continues the optimisation, not the average.

The decay is warmed up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` does,
``min(decay, (1 + n) / (10 + n))`` after n updates, so a short or fresh run is not dominated by its start.
Only the parameters being trained are averaged (frozen ones cannot differ); buffers are the model's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightEMA:
    def __init__(self, model: nn.Module, decay: float, updates: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = updates
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]

    def rate(self) -> float:
        """The decay of the next update."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Moves the average towards the model's current weights (call after each optimiser step)."""
        weight = 1.0 - self.rate()
        for s, p in zip(self.shadow, self.params):
            s.lerp_(p.detach(), weight)
        self.updates += 1

    @torch.no_grad()
    def _swap(self) -> None:
        for s, p in zip(self.shadow, self.params):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """Inside: the model holds the averaged weights (to save or validate them); after: its own again."""
        self._swap()
        try:
            yield
        finally:
            self._swap()
