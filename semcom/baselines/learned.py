"""Learned baselines as trainable systems: the same channel, receiver view and checkpoint format as the proposed one.

Reconstruction: deepjscc, adjscc, witt. Segmentation: deeplab-jscc (through the channel)
and fcn (the receiver-side segmenter of JPEG + LDPC + QAM; trained on JPEG-degraded crops).

Checkpoint: ``model.safetensors`` (key prefix ``model.``) + ``config.json``
``{"system": "deepjscc", "cbr": "1/16", "width": 32, "num_classes": 11, "ignore_index": 11,
"meta": {...}, "sha256": ...}``.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from channel.step import transmit
from semcom.baselines.deepjscc import ADJSCC, DeepJSCC
from semcom.baselines.segmentation import FCN, DeeplabJSCC
from semcom.baselines.witt import WITT
from shared import tasks
from shared.channel import Channel, ChannelSpec, receive
from shared.layers import pad_to_multiple
from shared.weights import load_modules, read_checkpoint_doc, write_checkpoint

# the learned baselines' models by system name (semcom/systems.py registers the systems themselves)
LEARNED: dict[str, type[nn.Module]] = {"deepjscc": DeepJSCC, "adjscc": ADJSCC, "witt": WITT,
                                       "deeplab-jscc": DeeplabJSCC, "fcn": FCN}


def task_of(name: str) -> str:
    return getattr(LEARNED[name], "task", tasks.RECONSTRUCTION)


class BaselineSystem(nn.Module):
    def __init__(self, name: str, cbr: str = "1/16", width: int = 32, num_classes: int = 11,
                 ignore_index: int = 11) -> None:
        super().__init__()
        if name not in LEARNED:
            raise ValueError(f"unknown baseline {name!r}; known: {', '.join(LEARNED)}")
        self.name, self.cbr, self.width = name, cbr, width
        self.task = task_of(name)
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.labelled = tasks.get(self.task).labelled
        extra = {"num_classes": num_classes} if self.labelled else {}
        self.model = LEARNED[name](cbr, width, **extra)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _through(self, x: torch.Tensor, snr_db: torch.Tensor, channel: Channel, csi: bool, generator) -> torch.Tensor:
        b, c, h, w = x.shape
        out = channel(x.reshape(b, -1), snr_db, generator)
        return receive(out.y, out.known if csi else None, out.noise_var, snr_db, out.err_var).symbols.reshape(b, c, h, w)

    def forward(self, batch: dict[str, tasks.TaskBatch], channel: Channel | None = None, csi: bool = True,
                generator: torch.Generator | None = None) -> dict:
        """batch: {its task: a TaskBatch}, as the proposed system's (``semcom.train.system``); one task, so
        the batch's weight (which balances the proposed system's tasks) does not apply."""
        part = batch[self.task]
        img, snr = part.images, part.snr_db
        if self.name == "fcn":  # digital chain: the segmenter sees decoded JPEGs, no analog channel
            seed = int(torch.randint(0, 2**31, (1,), generator=generator, device=img.device))
            decoded = self.model.logits(self.model.degrade(img, random.Random(seed)))
        else:
            decoded = self.model.decode(self._through(self.model.encode(img, snr), snr, channel or Channel(), csi,
                                                      generator), snr)
        if self.labelled:
            loss = F.cross_entropy(decoded, part.labels, weight=part.class_weight, ignore_index=self.ignore_index)
            result = {"loss": loss, "logits": decoded}
        else:
            result = {"loss": F.mse_loss(decoded, img), "image": decoded}
        return {"loss": result["loss"], self.task: result}

    @torch.no_grad()
    def segment(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """Deeplab-JSCC: (3, H, W) -> (H, W) class indices through the project's channel step."""
        if self.name == "fcn":
            raise ValueError("the FCN segments received images: use segment_image() after the classical chain")
        return self._transmit_and_decode(image, spec, seed).argmax(0)

    @torch.no_grad()
    def segment_image(self, image: torch.Tensor) -> torch.Tensor:
        """FCN: a (received) image (3, H, W) -> (H, W) class indices."""
        h, w = image.shape[-2:]
        padded, _ = pad_to_multiple(image[None].to(self.device), self.model.stride)
        return self.model.logits(padded)[0, :, :h, :w].argmax(0).cpu()

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) -> (3, H, W) through the project's channel step (as the services apply it)."""
        return self._transmit_and_decode(image, spec, seed)

    def _transmit_and_decode(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) padded to the stride, encoded, through `channel.step.transmit`, decoded, cropped back:
        the image (reconstruction) or the logits (segmentation), (C, H, W), on the CPU whatever the
        model's device."""
        h, w = image.shape[-2:]
        padded, _ = pad_to_multiple(image[None].to(self.device), self.model.stride)
        snr = torch.tensor([float(spec.snr_db)], device=self.device)
        x = self.model.encode(padded, snr)
        b, c, gh, gw = x.shape
        rx = transmit(x.reshape(1, -1), spec, seed)
        y = receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var).symbols
        return self.model.decode(y.reshape(b, c, gh, gw), snr)[0, :, :h, :w].cpu()

    def save(self, directory: str | Path, meta: dict | None = None) -> Path:
        """The checkpoint format of every system (shared.weights): config {system, cbr, width, classes}."""
        return write_checkpoint(directory, {"model": self.model},
                                {"system": self.name, "cbr": self.cbr, "width": self.width,
                                 "num_classes": self.num_classes, "ignore_index": self.ignore_index}, meta)

    @classmethod
    def load(cls, directory: str | Path) -> "BaselineSystem":
        doc = read_checkpoint_doc(directory)
        system = cls(doc["system"], doc["cbr"], doc.get("width", 32), doc.get("num_classes", 11),
                     doc.get("ignore_index", 11))
        load_modules(directory, {"model": system.model})
        return system.eval()
