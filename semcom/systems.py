"""The one registry of systems: name -> tasks, description, how to build it for evaluation, whether it trains.

``semcom eval --systems`` and ``semcom train --system`` take their names from here, and
``tests/semcom/test_systems.py`` runs every entry through the same contract. A new system is one
entry: a ``build(ctx, task)`` returning an ``Evaluated`` (the function the evaluation loop calls,
the CBR it spends, provenance for the JSON), and, when it learns, a model that ``semcom train``
can build (``semcom.baselines.learned.LEARNED``) or the proposed system's ``Trainer`` path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from shared import tasks
from shared.lazy import LazyModule, LazyTorch
from shared.tasks import RECONSTRUCTION, SEGMENTATION
from shared.weights import REPO_WEIGHTS, file_sha256, read_config, resolve_weights

# the registry's names are read by `semcom eval --help` without loading torch: the systems' modules load when a
# system is built
torch = LazyTorch(globals())
pipeline = LazyModule("semcom.pipeline", globals())
learned = LazyModule("semcom.baselines.learned", globals())
linear = LazyModule("semcom.baselines.linear", globals())
capacity = LazyModule("semcom.baselines.capacity", globals())
hybrid = LazyModule("semcom.baselines.hybrid", globals())
classical = LazyModule("semcom.baselines.classical", globals())


@dataclass
class BuildContext:
    """What building a system for evaluation may use (the fields of `semcom eval`'s options)."""

    preset: str = "cpu"
    weights: str | None = "default"  # the proposed system's checkpoint
    baseline_weights: str = str(REPO_WEIGHTS / "baselines")
    linear_weights: str = str(REPO_WEIGHTS / "linear")
    device: str = "cpu"
    steps: int | None = None  # diffusion steps of the proposed system
    cbr: str | None = None
    images: list[torch.Tensor] = field(default_factory=list)  # the evaluated images (classical chains: mean image)

    def default_cbr(self) -> str:
        return self.cbr or resolve_weights(self.preset, self.weights)[0].encoder.cbr

    def mean_image(self, like: torch.Tensor) -> torch.Tensor:
        """The data set's mean colour as an image like `like`: what a lost digital transmission shows."""
        if not self.images:
            return torch.full_like(like, 0.5)
        mean = torch.stack([i.mean(dim=(1, 2)) for i in self.images]).mean(0)[:, None, None]
        return mean.expand_as(like)


@dataclass
class Evaluated:
    """A built system: `run(image (3,H,W), ChannelSpec, seed)` -> reconstruction (3,H,W) or labels (H,W)."""

    run: Callable
    cbr: str
    provenance: dict
    classes: tuple[int, int] | None = None  # segmentation: (number of classes, void index)


@dataclass(frozen=True)
class SystemEntry:
    name: str
    tasks: tuple[str, ...] | None  # None: every task of the task table (the proposed system)
    description: str
    build: Callable[[BuildContext, str], Evaluated]
    trainable: bool = False  # `semcom train --system NAME`
    kind: str = "baseline"  # proposed | learned | training-free | reference


# ---------------------------------------------------------------------------------------------- builders


def _proposed(ctx: BuildContext, task: str) -> Evaluated:
    cfg, path = resolve_weights(ctx.preset, ctx.weights)
    cfg, tx, rx = pipeline.load_models(cfg, path, ctx.device)
    doc = read_config(path)[1] if path else {}
    prov = {"weights": str(path), "weights_sha256": doc.get("sha256"), "train_meta": doc.get("meta"),
            "preset": cfg.name}
    entry = tasks.get(task)
    if entry.sampled:
        prov["diffusion_steps"] = ctx.steps or cfg.diffusion.sample_steps
    classes = (cfg.seg.num_classes, cfg.seg.ignore_index) if entry.labelled else None
    return Evaluated(pipeline.chain_runner(tx, rx, task, ctx.steps), cfg.encoder.cbr, prov, classes)


def load_baseline(name: str, ctx: BuildContext):
    """A trained learned baseline from ctx.baseline_weights/<name>, with its provenance."""
    path = Path(ctx.baseline_weights) / name
    if not (path / "config.json").exists():
        raise SystemExit(f"semcom eval: no trained {name} in {path}: train one with "
                         f"`semcom train --system {name} --task {learned.task_of(name)} --out {path} ...`")
    model = learned.BaselineSystem.load(path).to(ctx.device)
    doc = json.loads((path / "config.json").read_text())
    return model, {"weights": str(path), "weights_sha256": doc.get("sha256"), "train_meta": doc.get("meta")}


def _learned(ctx: BuildContext, task: str, name: str) -> Evaluated:
    model, prov = load_baseline(name, ctx)
    if not tasks.get(task).labelled:
        return Evaluated(model.reconstruct, model.cbr, prov)
    return Evaluated(model.segment, model.cbr, prov, (model.num_classes, model.ignore_index))


def _linear(ctx: BuildContext, task: str, adaptive: bool) -> Evaluated:
    cbr = ctx.default_cbr()
    code = linear.LinearAnalog.load(ctx.linear_weights, cbr, adaptive=adaptive)
    pca = Path(ctx.linear_weights) / "pca.safetensors"
    return Evaluated(code.reconstruct, cbr, {"weights": str(pca), "weights_sha256": file_sha256(pca),
                                             "side_information": "per-image component variances" if adaptive
                                             else "the image's power scale"})


def _softcast_dct(ctx: BuildContext, task: str, spread: int = 1) -> Evaluated:
    system = linear.SoftCastDCT(ctx.default_cbr(), spread=spread)
    return Evaluated(system.reconstruct, system.cbr, {
        "chunk": system.code.chunk, "spread": spread,
        "side_information": f"the planes' means (float16), the chunk mask (1 bit per chunk) and each sent chunk's "
        f"variance ({system.code.value_bits} bits), counted: its bits, at 1 per channel use, come out of the CBR's "
        "channel uses"})


def _capacity(ctx: BuildContext, task: str) -> Evaluated:
    cbr = ctx.default_cbr()

    def run(img, spec, seed):
        return capacity.avif_at_capacity(img, float(Fraction(cbr)), spec, ctx.mean_image(img)).image

    return Evaluated(run, cbr, {"codec": "AVIF (Pillow)", "budget": "channel_uses * capacity bits per use"})


def _classical(ctx: BuildContext, task: str, bits: int, rate: str) -> Evaluated:
    cbr = ctx.default_cbr()
    chain = classical.JPEGLDPCQAM(bits, rate)
    prov = {"codeword_bits": chain.n, "info_bits_per_codeword": chain.k, "ldpc_iterations": 20}

    def received(img, spec, seed):
        return chain.transmit(img, float(Fraction(cbr)), spec, seed, ctx.mean_image(img)).image

    if not tasks.get(task).labelled:
        return Evaluated(received, cbr, prov)
    fcn, fcn_prov = load_baseline("fcn", ctx)
    return Evaluated(lambda img, spec, seed: fcn.segment_image(received(img, spec, seed)), cbr,
                     {**fcn_prov, **prov}, (fcn.num_classes, fcn.ignore_index))


def _avif_ldpc(ctx: BuildContext, task: str) -> Evaluated:
    cbr = ctx.default_cbr()
    chain = classical.AVIFLinkAdapted()

    def run(img, spec, seed):
        return chain.transmit(img, float(Fraction(cbr)), spec, seed, ctx.mean_image(img))[0].image

    return Evaluated(run, cbr, {"codec": "AVIF (Pillow)", "codeword_bits": chain.codeword_bits,
                                "ldpc_iterations": chain.num_iter, "link_margin_db": classical.LINK_MARGIN_DB,
                                "mcs_table": [list(r) for r in classical.MCS_TABLE]})


def _hda_avif(ctx: BuildContext, task: str) -> Evaluated:
    system = hybrid.HybridAVIFDCT(ctx.default_cbr(), ctx.mean_image)
    return Evaluated(system.reconstruct, system.cbr, {
        "base": "AVIF (Pillow) over 5G LDPC + QAM, the configuration link_adapted() picks, the quality chosen "
        "for the least expected error", "analog": "ChunkDCT: 16x16 chunks, MMSE allocation, spread 64, compact "
        "side information", "link_margin_db": classical.LINK_MARGIN_DB, "qualities": list(hybrid.QUALITIES)})


# ---------------------------------------------------------------------------------------------- the registry

REC, SEG = (RECONSTRUCTION,), (SEGMENTATION,)
REGISTRY: dict[str, SystemEntry] = {}


def _add(entry: SystemEntry) -> None:
    REGISTRY[entry.name] = entry


_add(SystemEntry("proposed", None,
                 "generative semcom (Swin KB + JSCC with a linear analog path + DiT diffusion / ResNet decoders)",
                 _proposed, trainable=True, kind="proposed"))
for _name, _desc in (("deepjscc", "Deep JSCC (Bourtsoulatze et al.)"),
                     ("adjscc", "ADJSCC (Xu et al.), SNR-adaptive attention modules"),
                     ("witt", "WITT (Yang et al.), Swin Transformer JSCC with SNR modulation")):
    _add(SystemEntry(_name, REC, _desc, lambda ctx, task, n=_name: _learned(ctx, task, n), True, "learned"))
_add(SystemEntry("deeplab-jscc", SEG, "Deeplab-JSCC: atrous (ASPP) JSCC encoder and decoder, trained through the "
                 "channel", lambda ctx, task: _learned(ctx, task, "deeplab-jscc"), True, "learned"))
_add(SystemEntry("fcn", (), "the FCN segmenter of the JPEG + LDPC + QAM chains (trained on JPEG-degraded crops; "
                 "evaluated as fcn-jpeg-*)", lambda ctx, task: _learned(ctx, task, "fcn"), True, "learned"))
_add(SystemEntry("linear", REC, "linear analog code, no training: PCA of 16x16 patches, power g ~ lambda^-1/4, LMMSE "
                 "(fitted statistics; the image's power scale as side information)",
                 lambda ctx, task: _linear(ctx, task, False), kind="training-free"))
_add(SystemEntry("softcast", REC, "SoftCast (Jakubczak & Katabi): the linear analog code with each image's component "
                 "variances as side information (gains and LMMSE per image)",
                 lambda ctx, task: _linear(ctx, task, True), kind="training-free"))
_add(SystemEntry("softcast-dct", REC, "SoftCast as published: the whole frame's DCT in 16x16-coefficient chunks, the "
                 "chunks with the most energy sent, the planes' means and the chunks' variances as side information "
                 "counted in the CBR; each chunk on its own channel uses", _softcast_dct, kind="training-free"))
_add(SystemEntry("softcast-hadamard", REC, "softcast-dct with SoftCast's Hadamard transform across groups of 64 chunks "
                 "and an interleaver, so every channel use carries about the same power and each chunk lies all over "
                 "the frame (what fading and an estimated channel need)",
                 lambda ctx, task: _softcast_dct(ctx, task, 64), kind="training-free"))
for _bits in (4, 6):
    for _rate in ("1/2", "2/3"):
        _jpeg = f"jpeg-{2 ** _bits}qam-{_rate}"
        _add(SystemEntry(_jpeg, REC, f"JPEG + 5G LDPC rate {_rate} + {2 ** _bits}-QAM (Sionna), mean image when a "
                         "block fails", lambda ctx, task, b=_bits, r=_rate: _classical(ctx, task, b, r),
                         kind="training-free"))
        _add(SystemEntry(f"fcn-{_jpeg}", SEG, f"JPEG + 5G LDPC rate {_rate} + {2 ** _bits}-QAM (Sionna), FCN "
                         "segmenter at the receiver", lambda ctx, task, b=_bits, r=_rate: _classical(ctx, task, b, r),
                         kind="training-free"))
_add(SystemEntry("avif-ldpc", REC, "AVIF + 5G LDPC + QAM (Sionna) with link adaptation: the modulation and code rate "
                 "chosen for the SNR from their measured AWGN thresholds, mean image when a block fails",
                 _avif_ldpc, kind="training-free"))
_add(SystemEntry("hda-avif", REC, "hybrid digital-analog, no training: an AVIF base over avif-ldpc's link and "
                 "SoftCast's DCT code (as the proposed system sends it) of what the base leaves, the split chosen "
                 "for the SNR", _hda_avif, kind="training-free"))
_add(SystemEntry("capacity-avif", REC, "AVIF (AV1 intra) at the Shannon capacity of the same channel uses: an upper "
                 "reference", _capacity, kind="reference"))


def tasks_of(entry: SystemEntry) -> tuple[str, ...]:
    return tasks.names() if entry.tasks is None else entry.tasks


def names(task: str | None = None) -> list[str]:
    """Every evaluable system, or those of one task."""
    return [n for n, e in REGISTRY.items() if tasks_of(e) and (task is None or task in tasks_of(e))]


def trainable() -> list[str]:
    return [n for n, e in REGISTRY.items() if e.trainable]


def get(name: str, task: str) -> SystemEntry:
    if name not in REGISTRY or not tasks_of(REGISTRY[name]):
        raise KeyError(f"unknown system {name!r}; available: {', '.join(names())}")
    entry = REGISTRY[name]
    if task not in tasks_of(entry):
        raise KeyError(f"{name} is not a {task} system; those are {', '.join(names(task))}")
    return entry
