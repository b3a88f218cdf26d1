"""The trainable end-to-end system: transmitter -> channel -> receiver, with each task's loss.

Training, evaluation and the pipeline share the modules; this wraps them in one
``nn.Module`` so one forward computes a whole step (what DDP needs).
"""

from __future__ import annotations

import torch
from torch import nn

from receiver.model import Receiver
from receiver.received import Received
from shared.analog import PatchPCA, code_scale
from shared.channel import Channel, receive
from shared.config import ModelConfig
from shared.tasks import TaskBatch
from transmitter.model import Transmitter


class System(nn.Module):
    def __init__(self, cfg: ModelConfig, pca: PatchPCA | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.transmitter = Transmitter(cfg, pca)
        self.receiver = Receiver(cfg, pca)

    def through_channel(self, images: torch.Tensor, task: str, snr_db: torch.Tensor, channel: Channel,
                        csi: bool, generator: torch.Generator | None
                        ) -> tuple[torch.Tensor, torch.Tensor, Received]:
        """images (B,3,H,W), H and W multiples of the stride -> (symbol grid x (B,c,h,w), the scale from the
        linear code to it per image and component (B, 2c) or (B, 1) (``shared.analog.code_scale``), what the
        receiver's networks take)."""
        packet = self.transmitter(images, task, snr_db)  # (B, n) complex, its grid (c, h, w), side information
        out = channel(packet.symbols, snr_db, generator)
        reception = receive(out.y, out.known if csi else None, out.noise_var, snr_db, out.err_var)
        x = packet.symbols.reshape(images.shape[0], *packet.grid)
        return x, code_scale(packet.scale, packet.allocation), self.receiver.view(reception, packet.grid, packet.scale,
                                                                                  packet.allocation, packet.dct)

    def forward(self, batch: dict[str, TaskBatch], channel: Channel | None = None, csi: bool = True,
                generator: torch.Generator | None = None) -> dict:
        """batch: each task's :class:`shared.tasks.TaskBatch` by task name; channel: the batch's channel
        (default AWGN). -> {"loss": the weighted sum of the tasks' losses, <task>: its decoder's
        ``train_loss`` dict}."""
        channel = channel or Channel()
        out: dict = {}
        total = 0.0
        for task, part in batch.items():
            x, scale, received = self.through_channel(part.images, task, part.snr_db, channel, csi, generator)
            feats = self.receiver.source_kb(received.grid, task)
            out[task] = self.receiver.decoder(task).train_loss(part, received, feats, x, scale, generator,
                                                               self.receiver.analog)
            total = total + part.weight * out[task]["loss"]
        out["loss"] = total
        return out
