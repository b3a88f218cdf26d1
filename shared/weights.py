"""Checkpoints: safetensors for tensors, JSON for the config and provenance. Nothing is unpickled."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import ModelConfig, get_preset
from shared.tensorfile import save_tensors

if TYPE_CHECKING:  # torch (and safetensors.torch) load where tensors are read or written, not for paths and configs
    import torch

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_checkpoint(directory: str | Path, modules: dict[str, torch.nn.Module], config: dict[str, Any],
                     meta: dict[str, Any] | None = None) -> Path:
    """The one checkpoint format of every system: model.safetensors (keys '<module>.<param>') and config.json
    {**config (what rebuilds the system), meta (provenance), sha256 (of the weights file)}. Nothing pickled."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {f"{name}.{k}": v.detach().cpu().contiguous() for name, m in modules.items()
               for k, v in m.state_dict().items()}
    save_tensors(tensors, d / WEIGHTS_FILE)
    doc = {**config, "meta": meta or {}, "sha256": file_sha256(d / WEIGHTS_FILE)}
    (d / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))
    return d


def read_checkpoint_doc(directory: str | Path) -> dict[str, Any]:
    return json.loads((Path(directory) / CONFIG_FILE).read_text())


def read_tensors(directory: str | Path, verify: bool = True) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors by name ('<module>.<param>'), as stored (float16 where ``semcom half`` put it);
    refuses a weights file whose hash differs from config.json's. Every reader of a checkpoint goes through
    here (loading, ``semcom merge``, ``semcom half``, ``--init-partial``)."""
    d = Path(directory)
    doc = read_checkpoint_doc(d)
    if verify and doc.get("sha256") and file_sha256(d / WEIGHTS_FILE) != doc["sha256"]:
        raise ValueError(f"{d / WEIGHTS_FILE} does not match the sha256 in {d / CONFIG_FILE}: "
                         "the weights were changed or corrupted; restore them or retrain")
    from safetensors.torch import load_file  # loads torch, which the tools' --help must not wait for

    return load_file(str(d / WEIGHTS_FILE))


# What each task has to itself in a checkpoint of the proposed system (every other tensor and config section
# serves both): `semcom merge` takes each task's from its own run, and a task's digest leaves the others' out
TASK_TENSORS = {
    "reconstruction": ("receiver.reconstruction.", "receiver.source_kb.block2.",
                       "transmitter.encoder.snr_gate.reconstruction."),
    "segmentation": ("receiver.segmentation.", "transmitter.encoder.snr_gate.segmentation."),
}
TASK_CONFIG = {"reconstruction": ("dit", "diffusion"), "segmentation": ("seg",)}


def task_digest(directory: str | Path, task: str) -> str:
    """The sha256 of what `task`'s outputs depend on in a checkpoint: its config and every tensor (name, dtype,
    shape, bytes) but those other tasks have to themselves (``TASK_TENSORS``, ``TASK_CONFIG``). Two checkpoints
    that differ only in another task's parts (one ``semcom merge`` replaced) give the same digest, so
    `semcom sweep` keeps this task's cells."""
    import torch

    others = [t for t in TASK_TENSORS if t != task]
    skip = tuple(p for t in others for p in TASK_TENSORS[t])
    model = {k: v for k, v in read_checkpoint_doc(directory)["model"].items()
             if k not in {c for t in others for c in TASK_CONFIG[t]}}
    h = hashlib.sha256(json.dumps(model, sort_keys=True).encode())
    for name, t in sorted(read_tensors(directory).items()):
        if not name.startswith(skip):
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def load_modules(directory: str | Path, modules: dict[str, torch.nn.Module], verify: bool = True,
                 new: tuple[str, ...] = (), left_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Loads tensors into `modules` (strict); refuses a weights file whose hash differs from config.json.

    `new`: names ('<module>.<param prefix>') of parts the checkpoint predates; they keep their own
    initial values. `left_out`: names of the checkpoint's parts the model no longer has; they are not
    loaded. Any other missing or extra tensor is still an error."""
    doc = read_checkpoint_doc(directory)
    tensors = read_tensors(directory, verify)
    tensors = {k: v for k, v in tensors.items() if not any(k.startswith(p.rstrip(".") + ".") for p in left_out)}
    for name, module in modules.items():
        prefix = name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        fresh = tuple(n[len(prefix):] for n in new if n.startswith(prefix))
        if fresh:
            state.update({k: v for k, v in module.state_dict().items() if k.startswith(fresh) and k not in state})
        module.load_state_dict(state, strict=True)
    return doc


def save_checkpoint(directory: str | Path, cfg: ModelConfig, modules: dict[str, torch.nn.Module],
                    meta: dict[str, Any] | None = None) -> Path:
    """The proposed system: config.json {model: the ModelConfig, meta, sha256}."""
    return write_checkpoint(directory, modules, {"model": cfg.to_dict()}, meta)


def read_config(directory: str | Path) -> tuple[ModelConfig, dict[str, Any]]:
    doc = read_checkpoint_doc(directory)
    return ModelConfig.from_dict(doc["model"]), doc




REPO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def shipped_weights(preset: str) -> Path | None:
    """The weights shipped in the repository for `preset` (weights/<preset>/), if any."""
    d = REPO_WEIGHTS / preset
    return d if (d / CONFIG_FILE).exists() else None


def resolve_weights(preset: str, weights: str | Path | None) -> tuple[ModelConfig, Path | None]:
    """'default' -> shipped weights of the preset (or untrained if none); 'none' -> untrained; else a directory."""
    if weights in (None, "none", ""):
        return get_preset(preset), None
    path = shipped_weights(preset) if weights == "default" else Path(weights)
    if path is None:
        return get_preset(preset), None
    if not (path / CONFIG_FILE).exists():
        raise FileNotFoundError(f"no {CONFIG_FILE} in {path}: pass a checkpoint directory written by semcom train")
    cfg, _ = read_config(path)
    return cfg, path


def starting_pca(cfg: ModelConfig, path: str | Path | None = None):
    """The patch PCA an untrained model's linear path starts from: `path`, else the shipped fit
    (weights/linear/, `python -m semcom.baselines.linear`); None without a fit of the config's patch size."""
    from shared.analog import PCA_FILE, PatchPCA  # loads torch, which the tools' --help must not wait for

    path = Path(path) if path is not None else REPO_WEIGHTS / "linear"
    if not (path / PCA_FILE).exists() and not path.is_file():
        return None
    pca = PatchPCA.load(path)
    return pca if pca.patch == cfg.encoder.stride and pca.keep >= 2 * cfg.encoder.symbol_channels else None


def load_side(cls, key: str, preset: str, weights: str | Path | None, device) -> torch.nn.Module:
    """Builds one side's model (`cls(cfg)`) from a preset or checkpoint and loads its `key` weights, in eval mode.

    Untrained (no checkpoint), the linear path starts from the shipped fit: the linear code itself."""
    cfg, path = resolve_weights(preset, weights)
    model = cls(cfg, starting_pca(cfg) if path is None else None)
    if path is not None:
        load_modules(path, {key: model})
    return model.to(device).eval()
