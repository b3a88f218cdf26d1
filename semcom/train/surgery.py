"""Checkpoint surgery for `semcom train`: what a run adds to, restarts in, freezes in or carries over from the
model it starts from (--snr-gate, --per-image-gains, --dct-code, --dct-allocation, --dct-spread,
--dct-side-info, --seg-image-blocks, --seg-image-encoder, --seg-backbone, --seg-backbone-gate, --seg-context,
--seg-dropout, --grow-refiner, --reinit, --freeze, --init-partial). `semcom merge` (semcom.train.merge) joins two
finished runs."""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.train.options import TrainConfig
from semcom.train.system import System
from shared.config import DCT_SETTINGS, ModelConfig
from shared.weights import read_tensors

CONTEXT_BINS = (1, 2, 3, 6)  # --seg-context: PSPNet's pyramid


def under(name: str, prefix: str) -> bool:
    """Whether the parameter `name` is `prefix` or lies under it (how --freeze and --reinit name parts)."""
    return name == prefix or name.startswith(prefix.rstrip(".") + ".")


def grow(cfg: ModelConfig, tc: TrainConfig,
         resuming: bool) -> tuple[ModelConfig, tuple[str, ...], tuple[str, ...], range]:
    """The config with the parts the flags add or drop; the tensor-name prefixes that are new (a checkpoint lacks
    them) and those left out (a checkpoint has them); the refiner blocks appended (they start as the identity)."""
    added: tuple[str, ...] = ()
    if tc.snr_gate and not cfg.encoder.snr_gate:
        cfg = cfg.replace(**{"encoder.snr_gate": True})
        added = ("transmitter.encoder.snr_gate",)
    new_gains = tuple(t for t in tc.per_image_gains if t not in cfg.encoder.per_image_gains)
    both = [t for t in tc.per_image_gains if t in cfg.encoder.dct_tasks or t in tc.dct_code]
    if both:
        raise SystemExit(f"semcom train: --per-image-gains {both[0]}: this model sends {both[0]} with the DCT code "
                         "(encoder.dct_tasks), which fits its power to each image itself")
    if new_gains:
        cfg = cfg.replace(**{"encoder.per_image_gains": cfg.encoder.per_image_gains + new_gains})
    new_dct = tuple(t for t in tc.dct_code if t not in cfg.encoder.dct_tasks)
    if new_dct:  # the DCT code replaces the patch code fitted to each image for its tasks
        cfg = cfg.replace(**{"encoder.per_image_gains": tuple(t for t in cfg.encoder.per_image_gains
                                                              if t not in new_dct),
                             "encoder.dct_tasks": cfg.encoder.dct_tasks + new_dct})
    for setting in DCT_SETTINGS:  # --dct-allocation, --dct-spread, --dct-side-info: from this run on
        if getattr(tc, setting) is not None:
            cfg = cfg.replace(**{f"encoder.{setting}": getattr(tc, setting)})
    for part, flag, what in (("image_blocks", "--seg-image-blocks", "{} image blocks"),
                             ("image_encoder", "--seg-image-encoder", "an image encoder of width {}")):
        wanted, has = getattr(tc, f"seg_{part}"), getattr(cfg.seg, part)
        if wanted and has != wanted:
            if has:
                raise SystemExit(f"semcom train: this model's segmentation decoder has {what.format(has)} already; "
                                 f"{flag} adds to an --init checkpoint without")
            cfg = cfg.replace(**{f"seg.{part}": wanted})
            added += (f"receiver.segmentation.{part}",)
    dropped: tuple[str, ...] = ()
    if tc.seg_backbone and cfg.seg.backbone != tc.seg_backbone:
        backbone = ("receiver.segmentation.backbone", "receiver.segmentation.backbone_out")
        if cfg.seg.backbone:  # replaced only where the run starts it afresh anyway
            if not any(under(backbone[0], p) for p in tc.reinit):
                raise SystemExit(f"semcom train: this model's segmentation decoder has the backbone "
                                 f"{cfg.seg.backbone} already; --seg-backbone adds one to an --init checkpoint "
                                 f"without, or replaces it under --reinit receiver.segmentation")
            dropped = backbone
        cfg = cfg.replace(**{"seg.backbone": tc.seg_backbone})
        added += backbone
    if tc.seg_backbone_gate and not cfg.seg.backbone_gate:
        if not cfg.seg.backbone:
            raise SystemExit("semcom train: --seg-backbone-gate gates a pretrained backbone's features; this "
                             "model's segmentation decoder has none (add one with --seg-backbone)")
        cfg = cfg.replace(**{"seg.backbone_gate": True})
        added += ("receiver.segmentation.backbone_gate",)
    if tc.seg_dropout is not None:
        cfg = cfg.replace(**{"seg.dropout": tc.seg_dropout})
    if tc.seg_backbone_scale is not None:
        if not cfg.seg.backbone:
            raise SystemExit("semcom train: --seg-backbone-scale resizes a pretrained backbone's input; this "
                             "model's segmentation decoder has none (add one with --seg-backbone)")
        cfg = cfg.replace(**{"seg.backbone_scale": tc.seg_backbone_scale})
    if tc.seg_context == "drop" and (cfg.seg.context_bins or not resuming):
        if not cfg.seg.context_bins:
            raise SystemExit("semcom train: --no-seg-context: this model's segmentation decoder has no pyramid "
                             "pooling to leave out")
        cfg = cfg.replace(**{"seg.context_bins": ()})
        dropped += ("receiver.segmentation.context",)
    if tc.seg_context == "add":
        if cfg.seg.context_bins:
            raise SystemExit(f"semcom train: this model's segmentation decoder has pyramid pooling already "
                             f"(bins {', '.join(map(str, cfg.seg.context_bins))})")
        cfg = cfg.replace(**{"seg.context_bins": CONTEXT_BINS})
        added += ("receiver.segmentation.context",)
    grown = range(cfg.dit.decoder_blocks, cfg.dit.decoder_blocks + tc.grow_refiner)
    if tc.grow_refiner:
        if resuming or not tc.init:
            raise SystemExit("semcom train: --grow-refiner appends blocks to the refiner of an --init checkpoint "
                             "(not with --resume)")
        cfg = cfg.replace(**{"dit.decoder_blocks": grown.stop})
        added += tuple(f"receiver.reconstruction.synthesis.blocks.{i}." for i in grown)
    return cfg, added, dropped, grown


def reinit(system: System, cfg: ModelConfig, prefixes: tuple[str, ...], seed: int) -> None:
    """The tensors under `prefixes` as a newly built model of the same config has them (seeded by `seed`)."""
    named = [n for n, _ in system.named_parameters()]
    for prefix in prefixes:
        if not any(under(n, prefix) for n in named):
            raise SystemExit(f"semcom train: --reinit {prefix}: no parameter of this model is named so "
                             "(names start with transmitter. or receiver., e.g. receiver.segmentation)")
    torch.manual_seed(seed)
    new = System(cfg, None)
    for side in ("transmitter", "receiver"):
        mine, theirs = getattr(system, side).state_dict(), getattr(new, side).state_dict()
        for name in mine:
            if any(under(f"{side}.{name}", p) for p in prefixes):
                mine[name] = theirs[name].to(mine[name].device)
        getattr(system, side).load_state_dict(mine)


def freeze(system: torch.nn.Module, prefixes: tuple[str, ...]) -> None:
    """Keeps every parameter whose name (transmitter.* / receiver.*) starts with one of `prefixes` fixed."""
    named = dict(system.named_parameters())
    for prefix in prefixes:
        hits = [p for n, p in named.items() if under(n, prefix)]
        if not hits:
            raise SystemExit(f"semcom train: --freeze {prefix}: no parameter of this model is named so "
                             "(names start with transmitter. or receiver., e.g. receiver.analog)")
        for p in hits:
            p.requires_grad_(False)


def load_partial(system: System, path: str | Path) -> tuple[int, int, int, int]:
    """Every tensor of another checkpoint whose name and shape match, except the DiT (with the linear path
    its output starts at zero, and the encoder's learned path behind a zero gate, so training starts at the
    linear code): for carrying what an older design learned (the Swin KB, the receiver KB, the segmentation
    decoder) into a new one. Returns tensors taken, tensors in all, values taken, values in all."""
    theirs = read_tensors(path)
    mine = {f"{side}.{k}": v for side in ("transmitter", "receiver")
            for k, v in getattr(system, side).state_dict().items()}
    fresh = ("receiver.reconstruction.dit.",)
    taken = {k: v for k, v in theirs.items()
             if k in mine and mine[k].shape == v.shape and not k.startswith(fresh)}
    for side in ("transmitter", "receiver"):
        module = getattr(system, side)
        state = module.state_dict()
        state.update({k[len(side) + 1:]: v for k, v in taken.items() if k.startswith(side + ".")})
        module.load_state_dict(state)
    return (len(taken), len(mine), sum(v.numel() for v in taken.values()), sum(v.numel() for v in mine.values()))
