"""Model configuration and the one preset registry.

Every network is built from a frozen :class:`ModelConfig`. Presets are plain
functions gathered in :data:`PRESETS`; the config is saved as JSON beside the
weights so a checkpoint never has to be rebuilt by guessing sizes.

Presets
-------
``paper``  the paper's Table I (Swin window 7 / patch 4 / embed 96 / 3 heads
           in the first stage, JSCC encoder hidden 128, DiT-XL/2-sized
           reconstruction decoder: depth 28, patch 2, 16 heads, 21 VOC classes).
``cpu``    small enough to train on two CPU cores in an hour or two and to
           decode a 224x224 image in well under a second; 11 CamVid classes.
``test``   tiny, for the unit tests.
"""

from __future__ import annotations

import math

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from shared.backbone import check_backbone
from shared.classes import CAMVID_CLASSES, VOC_CLASSES
from shared.errors import TooLarge
from shared.symbols import symbol_channels


@dataclass(frozen=True)
class SwinConfig:
    """Transmitter source KB: a hierarchical Swin Transformer (timm)."""

    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6)
    num_heads: tuple[int, ...] = (3, 6, 12)
    window_size: int = 7
    patch_size: int = 4
    feature_dim: int = 96  # channels of f1, f2, f3 once brought to one shape


# the DCT code's power allocations (``shared.dct_code``): SoftCast's lambda^(-1/4), or chosen for the SNR
DCT_ALLOCATIONS = ("softcast", "mmse")
DCT_SIDE_INFOS = ("plain", "compact")  # how the DCT code's side information is coded (shared.dct_code)
# the EncoderConfig fields of the DCT code a run may change without touching a weight (`semcom train`, `semcom merge`)
DCT_SETTINGS = ("dct_allocation", "dct_spread", "dct_side_info")
BACKBONE_SCALES = (0.5, 2.0)  # the factors SegConfig.backbone_scale may resize the backbone's input by


@dataclass(frozen=True)
class EncoderConfig:
    """JSCC encoder: concat(image, f) -> residual block -> strided downsampling."""

    hidden: int = 128
    n_down: int = 2  # stride-2 convolutions after the stride-4 feature grid
    cbr: str = "1/16"  # channel uses / (H*W*3); sets the number of symbol channels
    # Every encoder holds a linear analog code of stride x stride patches (shared/analog.py): the
    # convolutional path adds to it, the receiver inverts it (LMMSE) before its networks refine. Always
    # true; a saved config without it (or with false) is of a model made before the code existed.
    linear_path: bool = True
    # The learned path's gate as a function of the SNR the transmission is sent at (the transmitter
    # knows it from the channel request), one per task: at high SNR it can fall and leave the linear
    # code its power. Starts at the plain gate. False only in checkpoints made before it existed
    # (``semcom train --snr-gate`` adds it to one).
    snr_gate: bool = False
    # Tasks whose transmissions fit the linear code's power allocation to each image, as SoftCast does
    # (``shared.analog.per_image_allocation``): the image's component variances (k numbers) go to the
    # receiver with the power scale. Empty in checkpoints made before it (``semcom train
    # --per-image-gains TASK`` adds it to one; it adds no weights).
    per_image_gains: tuple[str, ...] = ()
    # Tasks sent with SoftCast's whole-frame code instead (``shared.dct_code.ChunkDCT``: the padded image's DCT in
    # dct_chunk x dct_chunk chunks, the strongest that fit in the grid's channel uses beside their side
    # information); the encoder's networks do not act on them, the receiver decodes its LMMSE image and its
    # networks refine it. Empty in checkpoints made before it (``semcom train --dct-code TASK`` adds it; it
    # adds no weights).
    dct_tasks: tuple[str, ...] = ()
    dct_chunk: int = 16
    dct_value_bits: int = 8
    # the chunks' power: "softcast" (lambda^(-1/4), as published) or "mmse" (chosen for the SNR the transmission is
    # sent at, which the receiver is told too: ``shared.dct_code.mmse_gains``)
    dct_allocation: str = "softcast"
    # the chunks mixed before they are sent, SoftCast's Hadamard transform across groups of this many chunks and an
    # interleaver (a power of two; 1: each chunk on its own symbols, as the DCT code was before 2026-12-07): every
    # symbol then carries about the same power and each chunk lies all over the grid, which under fading and with
    # an estimated channel is worth several dB (weights/README.md)
    dct_spread: int = 64
    # the side information's code: "plain" (1 bit per chunk for the mask, value_bits per variance, as SoftCast sends
    # it) or "compact" (the set of sent chunks and the non-increasing variance codes each as one enumerative index,
    # ceil(log2 C(n, k)) and ceil(log2 C(k + 2^value_bits - 1, k)) bits: 12 % of a 768x512 image's channel uses
    # become 4 %, and 44 more chunks are sent)
    dct_side_info: str = "compact"

    def __post_init__(self) -> None:
        if not self.linear_path:
            raise ValueError("every encoder holds the linear analog code (linear_path false is the design before "
                             "2026-11-28, which this version no longer builds)")
        both = set(self.dct_tasks) & set(self.per_image_gains)
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: a task is sent with the DCT code (dct_tasks) or with the "
                             "patch code fitted to each image (per_image_gains), not both")
        if self.dct_allocation not in DCT_ALLOCATIONS:
            raise ValueError(f"unknown DCT power allocation {self.dct_allocation!r}: {' or '.join(DCT_ALLOCATIONS)}")
        if self.dct_side_info not in DCT_SIDE_INFOS:
            raise ValueError(f"unknown DCT side information code {self.dct_side_info!r}: {' or '.join(DCT_SIDE_INFOS)}")
        if self.dct_spread < 1 or self.dct_spread & (self.dct_spread - 1):
            raise ValueError(f"the DCT code spreads chunks in groups of a power of two, not {self.dct_spread}")
        if self.dct_tasks and (self.dct_chunk < 2 or self.stride % self.dct_chunk):
            raise ValueError(f"DCT chunks of {self.dct_chunk}x{self.dct_chunk} do not tile the padded image: use a "
                             f"divisor of the stride {self.stride} of at least 2")

    @property
    def stride(self) -> int:
        """Total spatial reduction from image to symbol grid."""
        return 4 * 2**self.n_down

    @property
    def symbol_channels(self) -> int:
        """Complex symbols per position of the symbol grid (from the CBR)."""
        return symbol_channels(self.cbr, self.stride)


@dataclass(frozen=True)
class ReceiverKBConfig:
    """Receiver source KB: conv in, then two residual blocks (two 3x3 convs each)."""

    hidden: int = 128


@dataclass(frozen=True)
class DiTConfig:
    """Reconstruction decoder: DiT-style conditional denoiser + upsampler."""

    hidden: int = 1152
    depth: int = 28
    heads: int = 16
    patch: int = 2
    mlp_ratio: float = 4.0
    refine_channels: int = 32  # residual block at full resolution
    # residual blocks on the linear image estimate at stride 4 (pixel-unshuffled)
    decoder_channels: int = 192
    decoder_blocks: int = 8


@dataclass(frozen=True)
class DiffusionConfig:
    """Noise schedule and sampler of the reconstruction decoder."""

    timesteps: int = 1000
    schedule: str = "cosine"
    sample_steps: int = 50  # DDIM steps at inference (user setting)
    eta: float = 0.0  # DDIM stochasticity, 0 = deterministic
    latent_loss_weight: float = 0.01  # keeps the encoder's gradient led by the image MSE
    # share of training samples drawn at the last step (pure noise in): the one-step x0 prediction is
    # the regression estimate E[z0 | y] that a 1-step decode returns; the rest of t trains the sampler
    regression_share: float = 0.5
    # image loss: the mean over the batch of log(eq. 5 per image) (= the mean PSNR) instead of eq. 5's mean,
    # so every SNR of a batch counts alike (False only in checkpoints made before it existed)
    log_mse: bool = False


@dataclass(frozen=True)
class SegConfig:
    """Segmentation decoder: ResNet with two residual blocks + upsampling."""

    hidden: int = 128
    dropout: float = 0.1
    # residual blocks after the linear image estimate is fused (stride 4); 0 in checkpoints made before them
    # (``semcom train --seg-image-blocks`` adds them to one)
    image_blocks: int = 0
    # PSPNet's pyramid pooling on the symbol grid (global context: which side of the frame is sky, road,
    # buildings) at these bin counts; () in checkpoints made before it (``semcom train --seg-context``)
    context_bins: tuple[int, ...] = ()
    # width of a residual pyramid on the image estimate joining the upsampling path (U-Net's encoder); 0 in
    # checkpoints made before it (``semcom train --seg-image-encoder W`` adds one)
    image_encoder: int = 0
    # an ImageNet-pretrained network on the image estimate joining the same path (shared.backbone.BACKBONES;
    # "" none, as in checkpoints made before it; ``semcom train --seg-backbone NAME`` adds one)
    backbone: str = ""
    # the backbone's additions scaled at each position by a learned function of the SNR there, starting at 1;
    # False in checkpoints made before it (``semcom train --seg-backbone-gate`` adds one)
    backbone_gate: bool = False
    # the backbone reads the image estimate resized by this factor (its features are brought back to the decoder's
    # resolutions): thin poles, signs and people span more of its stride-4 positions; 1 in checkpoints made
    # before it (``semcom train --seg-backbone-scale``; the same weights, so it can change between runs)
    backbone_scale: float = 1.0
    class_names: tuple[str, ...] = VOC_CLASSES
    ignore_index: int = 255

    def __post_init__(self) -> None:
        check_backbone(self.backbone)
        if self.backbone_gate and not self.backbone:
            raise ValueError("seg.backbone_gate gates a pretrained backbone's features: name seg.backbone too")
        lo, hi = BACKBONE_SCALES
        if not lo <= self.backbone_scale <= hi:
            raise ValueError(f"seg.backbone_scale resizes the backbone's input by a factor in [{lo:g}, {hi:g}], "
                             f"not {self.backbone_scale}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


WORK_STEPS = 16  # one request may cost the diffusion decoder at most max_pixels x WORK_STEPS pixel-steps


class WorkTooLarge(TooLarge):
    """A request within the image caps that would still cost the decoder more than one request may
    (RESOURCE_EXHAUSTED at the services; detail max-steps: the most this image may ask)."""


@dataclass(frozen=True)
class ModelConfig:
    name: str
    swin: SwinConfig = field(default_factory=SwinConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    rx_kb: ReceiverKBConfig = field(default_factory=ReceiverKBConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    seg: SegConfig = field(default_factory=SegConfig)
    max_side: int = 4096  # largest image side the transmitter accepts
    max_pixels: int = 4096 * 4096

    def check_image_size(self, height: int, width: int) -> None:
        """ValueError unless an image of height x width is within this preset's caps."""
        if not (1 <= height <= self.max_side and 1 <= width <= self.max_side) or height * width > self.max_pixels:
            raise ValueError(f"image of {width}x{height} pixels is outside the cap (1 to {self.max_side} px per side, "
                             f"at most {self.max_pixels} pixels)")

    def check_codable(self, height: int, width: int, task: str = "") -> None:
        """ValueError when an image is too small for the code: each started stride x stride block costs the
        same channel uses, so a few pixels would take more channel uses than they have values (CBR over 1),
        which the channel refuses; a task sent with the DCT code also needs room for one chunk beside its side
        information."""
        c, s = self.encoder.symbol_channels, self.encoder.stride
        uses = c * -(-height // s) * -(-width // s)
        if task in self.encoder.dct_tasks:
            from shared.dct_code import ChunkDCT

            padded = (-(-height // s) * s, -(-width // s) * s)
            ChunkDCT.of(self.encoder).check_codable(padded, uses, task, block=s)
        if uses > 3 * height * width:
            raise ValueError(f"a {width}x{height} image is too small for this model: it sends {c} channel uses for "
                             f"each started {s}x{s}-pixel block, {uses} here, more than the image's "
                             f"{3 * height * width} pixel values (CBR over 1); send at least {c // 3} pixels per "
                             f"block ({math.isqrt(c // 3 - 1) + 1}x{math.isqrt(c // 3 - 1) + 1} or larger)")

    @property
    def max_pixel_steps(self) -> int:
        """The most work one request may ask of the diffusion decoder: pixels x sampling steps."""
        return self.max_pixels * WORK_STEPS

    def check_work(self, height: int, width: int, steps: int) -> None:
        """WorkTooLarge unless a reconstruction of height x width at `steps` (0 = the default) is within
        ``max_pixel_steps``: one request must not hold the single decoder, and everyone queued behind it, for
        minutes (1000 steps of a 768x512 image took 80 s on two cores)."""
        steps = steps or self.diffusion.sample_steps
        work = height * width * steps
        if work > self.max_pixel_steps:
            most = self.max_pixel_steps // (height * width)
            fix = f"use at most {most} steps for this image" if most >= 1 else "send a smaller image"
            raise WorkTooLarge(f"a {width}x{height} image at {steps} diffusion steps is {work / 1e6:.1f} M pixel-steps, "
                               f"over the cap of {self.max_pixel_steps / 1e6:.1f} M ({self.max_pixels} pixels x "
                               f"{WORK_STEPS} steps) that keeps one request from holding the decoder for everyone "
                               f"queued behind it: {fix}", max_steps=most)

    def check_grid(self, grid: tuple[int, int, int], image_size: tuple[int, int]) -> None:
        """ValueError unless (c, h, w) is the symbol grid this model makes of an image of `image_size` (H, W)."""
        c, s = self.encoder.symbol_channels, self.encoder.stride
        if grid[0] != c:
            raise ValueError(f"transmitter sends {grid[0]} symbol channels, this model expects {c} "
                             f"(CBR {self.encoder.cbr}): load the same weights on every side")
        expected = (-(-image_size[0] // s), -(-image_size[1] // s))
        if tuple(grid[1:]) != expected:
            raise ValueError(f"a symbol grid of {grid[1]}x{grid[2]} positions does not match a {image_size[1]}x"
                             f"{image_size[0]} image, for which this model (stride {s}) makes {expected[0]}x"
                             f"{expected[1]}")

    def check_steps(self, steps: int) -> None:
        """ValueError unless `steps` diffusion sampling steps can run (0 = the preset's default)."""
        if not 0 <= steps <= self.diffusion.timesteps:
            raise ValueError(f"{steps} diffusion steps requested; the sampler takes 1 to {self.diffusion.timesteps} "
                             f"(0 = the default, {self.diffusion.sample_steps})")

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with top-level or dotted changes, e.g. ``replace(**{"encoder.cbr": "1/32"})``."""
        cfg = self
        for key, value in changes.items():
            head, _, rest = key.partition(".")
            if rest:
                sub = dataclasses.replace(getattr(cfg, head), **{rest: value})
                cfg = dataclasses.replace(cfg, **{head: sub})
            else:
                cfg = dataclasses.replace(cfg, **{head: value})
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        subs = {
            "swin": SwinConfig,
            "encoder": EncoderConfig,
            "rx_kb": ReceiverKBConfig,
            "dit": DiTConfig,
            "diffusion": DiffusionConfig,
            "seg": SegConfig,
        }
        if not d.get("encoder", {}).get("linear_path", False):
            raise ValueError("this model predates the encoder's linear analog code (2026-11-28), which every model "
                             "since has; check out a commit from before 2026-12 to run it, or train a model of "
                             "today's design (semcom train)")
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key in subs:
                sub_cls = subs[key]
                known = {f.name for f in dataclasses.fields(sub_cls)}
                kwargs[key] = sub_cls(**{k: _tuples(v) for k, v in value.items() if k in known})
            elif key in {f.name for f in dataclasses.fields(cls)}:
                kwargs[key] = value
        return cls(**kwargs)


def _tuples(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


# ----------------------------------------------------------------------------- presets


def paper() -> ModelConfig:
    """Table I of the paper (DiT-XL/2-sized decoder; 21 PASCAL VOC classes)."""
    return ModelConfig(name="paper", encoder=EncoderConfig(snr_gate=True,
                                                           per_image_gains=("reconstruction",)),
                       diffusion=DiffusionConfig(log_mse=True), seg=SegConfig(image_blocks=2))


def cpu() -> ModelConfig:
    """What weights/cpu is, exactly (a test loads them into it strictly): trained here on two CPU cores, its
    reconstruction decoder's last minutes on one GPU (weights/README.md)."""
    return ModelConfig(
        name="cpu",
        swin=SwinConfig(embed_dim=48, depths=(2, 2, 2), num_heads=(2, 4, 8), feature_dim=48),
        encoder=EncoderConfig(hidden=96, n_down=2, cbr="1/16", snr_gate=True,
                              dct_tasks=("reconstruction",), dct_allocation="mmse"),
        rx_kb=ReceiverKBConfig(hidden=96),
        dit=DiTConfig(hidden=192, depth=4, heads=4, patch=2, refine_channels=16,
                      decoder_channels=96, decoder_blocks=10),
        diffusion=DiffusionConfig(sample_steps=1, log_mse=True),
        seg=SegConfig(hidden=96, image_blocks=2, context_bins=(1, 2, 3, 6), class_names=CAMVID_CLASSES,
                      ignore_index=11, backbone="efficientnet_lite0", backbone_gate=True),
        max_side=2048,
        max_pixels=2048 * 2048,
    )


def test() -> ModelConfig:
    """The cpu preset's design shrunk for the unit tests: narrow, shallow, few diffusion steps, no pyramid
    pooling, no pretrained backbone, 1024-pixel images at most."""
    return cpu().replace(**{
        "name": "test",
        "swin.embed_dim": 16, "swin.depths": (1, 1, 1), "swin.num_heads": (1, 2, 4), "swin.feature_dim": 16,
        "encoder.hidden": 16, "rx_kb.hidden": 16,
        "dit.hidden": 32, "dit.depth": 2, "dit.heads": 2,
        "dit.refine_channels": 8, "dit.decoder_channels": 16, "dit.decoder_blocks": 1,
        "diffusion.timesteps": 100, "diffusion.sample_steps": 3,
        "seg.hidden": 16, "seg.image_blocks": 1, "seg.context_bins": (), "seg.backbone_gate": False, "seg.backbone": "",
        "max_side": 1024, "max_pixels": 1024 * 1024,
    })


PRESETS: dict[str, Callable[[], ModelConfig]] = {"paper": paper, "cpu": cpu, "test": test}


def get_preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None
