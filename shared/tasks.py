"""The task table: what the project knows of each task, one entry per task, asked by every other module.

An entry says how a request names the task (its phrasings, the task KB's memory), what the two source KBs
select for it, which receiver decoder serves it, what its result is (an image or a label map: which fields of
``Result`` carry it, how it is rendered and written, how ``semcom eval`` scores it and which data it reads),
and whether the decoder samples (diffusion steps, and the work bound of pixels x steps).

A decoder factory is ``"module:function"``, imported when a receiver model is built (the table sits below
``receiver/`` and must not import it), called as ``function(cfg, y_channels, feature_channels)`` and
returning an ``nn.Module`` with::

    decode(received, feats, snr_db, steps, generator, on_step, analog) -> image (B, 3, H, W) in [0, 1]
                                                                         or labels (B, H, W) long
    train_loss(batch, received, feats, x, scale, generator, analog)     -> {"loss": what training minimises,
        "image": (B, 3, H, W) or "logits": (B, K, H, W), any other 0-d tensor: a statistic to show}

where `batch` is the task's :class:`TaskBatch`, `x`, `scale` the symbol grid sent and its scale from the
linear code (``shared.analog.code_scale``) and `analog` the receiver's inverse of that code (``Received.linear``
is its estimate of the code; ``analog.synthesise`` makes an image of it). `semcom train` trains every task whose decoder has one.

A new task is one ``register(Task(...))`` and its decoder module; ``tests/semcom/test_task_table.py`` adds a
toy third task so and runs it through the in-process chain and ``semcom eval``. The decoder is a module of
the receiver named after the task (``receiver.<name>.*`` in a checkpoint), so a model built with a task
registered holds its decoder, and checkpoints name their parts by task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IMAGE, LABELS = "image", "labels"  # what a task's result is
METRIC = {IMAGE: "psnr", LABELS: "miou"}  # how semcom eval scores it (images against the sent image; label
#                                           maps against the data set's labels)


@dataclass(frozen=True)
class Task:
    name: str
    phrasings: tuple[str, ...]  # the task KB's memory of the instruction (paper Sec. III-A)
    output: str  # IMAGE: Result.image_png; LABELS: Result.labels_png, colour_png, class_names
    source_levels: tuple[int, ...]  # the Swin stages the transmitter's source KB sums (f_R = f1+f2+f3, ...)
    receiver_blocks: int  # how many of the receiver source KB's blocks it takes (r1 or r1 || r2)
    decoder: str  # "module:function" building the receiver's decoder for it (see above)
    sampled: bool = False  # decodes by diffusion sampling: takes steps; its work is bounded by pixels x steps
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"task name {self.name!r}: lower-case letters, digits and underscores (it names the "
                             "decoder's parameters)")
        if self.output not in METRIC:
            raise ValueError(f"task {self.name}: output must be {IMAGE!r} or {LABELS!r}, got {self.output!r}")
        if not self.phrasings:
            raise ValueError(f"task {self.name}: give the task KB at least one phrasing")
        if self.receiver_blocks not in (1, 2):
            raise ValueError(f"task {self.name}: the receiver's source KB has 2 blocks; take 1 or 2")
        if not self.source_levels or not set(self.source_levels) <= {0, 1, 2}:
            raise ValueError(f"task {self.name}: source_levels are Swin stages 0, 1 and 2")
        if ":" not in self.decoder:
            raise ValueError(f"task {self.name}: decoder must be 'module:function', got {self.decoder!r}")

    @property
    def metric(self) -> str:
        return METRIC[self.output]

    @property
    def labelled(self) -> bool:
        """Its result is a label map, scored against a data set's labels (an image is scored against the image
        sent)."""
        return self.output == LABELS


@dataclass
class TaskBatch:
    """One task's part of a training step: `images` (B, 3, H, W) in [0, 1], each sent at its own SNR `snr_db`
    (B,); a labelled task's label maps `labels` (B, H, W) and optionally per-class loss weights
    `class_weight` (K,); `weight`, the task's loss's weight in the step's total."""

    images: Any
    snr_db: Any
    labels: Any = None
    class_weight: Any = None
    weight: float = 1.0


RECONSTRUCTION = "reconstruction"
SEGMENTATION = "segmentation"

_TABLE: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in _TABLE:
        raise ValueError(f"task {task.name!r} is registered already")
    _TABLE[task.name] = task
    return task


def unregister(name: str) -> None:
    _TABLE.pop(name, None)


def get(name: str) -> Task:
    """The task's entry; ValueError naming the known tasks otherwise."""
    try:
        return _TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(_TABLE)}") from None


def names() -> tuple[str, ...]:
    return tuple(_TABLE)


def all_tasks() -> tuple[Task, ...]:
    return tuple(_TABLE.values())


register(Task(
    RECONSTRUCTION,
    phrasings=(
        "image reconstruction",
        "reconstruct the original image",
        "transmit the image and recover it at the receiver",
        "send me the picture",
        "restore the photo as faithfully as possible",
        "recover a high quality copy of the image",
        "show me the image at the other end",
        "deliver this photo to the receiver",
        "I want to see the same image on the other side",
        "rebuild the picture from what was received",
        "decode the image",
        "get the photo across the link",
    ),
    output=IMAGE, source_levels=(0, 1, 2), receiver_blocks=2, decoder="receiver.reconstruction:build",
    sampled=True, description="the image, by the DiT diffusion decoder and its refiner",
))
register(Task(
    SEGMENTATION,
    phrasings=(
        "image segmentation",
        "segment the image into semantic classes",
        "label every pixel with its object class",
        "give me a semantic segmentation map",
        "find the objects and regions in the picture",
        "pixel-wise classification of the scene",
        "where in the picture are the street and the sidewalk",
        "which pixels belong to which object",
        "mark the road, the sky and the buildings",
        "outline the cars and people",
        "what is where in this picture",
        "a mask for each object class",
        "parse the street scene",
    ),
    output=LABELS, source_levels=(1, 2), receiver_blocks=1, decoder="receiver.segmentation:build",
    description="a label map in the data set's classes, by the ResNet decoder",
))
