"""The trainable end-to-end system: transmitter -> channel -> receiver, with both task losses.

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
from shared.tasks import RECONSTRUCTION, SEGMENTATION
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
        x, scale, allocation = self.transmitter.encode(images, task, snr_db)  # (B, c, h, w) complex, (B,), ...
        b, c, h, w = x.shape
        out = channel(x.reshape(b, -1), snr_db, generator)
        reception = receive(out.y, out.known if csi else None, out.noise_var, snr_db, out.err_var)
        return x, code_scale(scale, allocation), self.receiver.view(reception, (c, h, w), scale, allocation)

    def forward(self, batch: dict, channel: Channel | None = None, csi: bool = True,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """batch: 'rec_images' (B,3,H,W), 'rec_snr' (B,) and/or 'seg_images', 'seg_labels' (B,H,W), 'seg_snr'
        (and optionally 'seg_class_weight' (K,));
        channel: the batch's channel (default AWGN)."""
        channel = channel or Channel()
        out: dict[str, torch.Tensor] = {}
        total = 0.0
        if "rec_images" in batch:
            img, snr = batch["rec_images"], batch["rec_snr"]
            x, scale, received = self.through_channel(img, RECONSTRUCTION, snr, channel, csi, generator)
            feats = self.receiver.source_kb(received.grid, RECONSTRUCTION)
            rec = self.receiver.reconstruction.loss(received, feats, snr, x, scale, img, generator,
                                                    self.receiver.analog)
            out.update(rec_loss=rec["loss"], image_mse=rec["image_mse"], latent_mse=rec["latent_mse"],
                       recon=rec["recon"])
            total = total + rec["loss"]
        if "seg_images" in batch:
            img, snr = batch["seg_images"], batch["seg_snr"]
            _, _, received = self.through_channel(img, SEGMENTATION, snr, channel, csi, generator)
            feats = self.receiver.source_kb(received.grid, SEGMENTATION)
            logits = self.receiver.segmentation.logits(received, feats, self.receiver.analog)
            seg = self.receiver.segmentation.loss(logits, batch["seg_labels"], batch.get("seg_class_weight"))
            out.update(seg_loss=seg, logits=logits)
            total = total + batch.get("seg_weight", 1.0) * seg
        out["loss"] = total
        return out
