"""A sweep's grid: the TOML spec of `semcom sweep`, expanded into cells, each keyed by what determines its numbers.

    [[sweep]]
    task = "reconstruction"                  # or "segmentation"
    systems = ["proposed", "softcast"]       # names of the system registry (semcom/systems.py)
    data = "../shared/data/kodak"            # a folder of images, or a CamVid / VOC root
    channels = ["awgn", {model = "tdl-c", speed_kmh = 120}]   # model names, or tables with their parameters
    params = {delay_spread_ns = 300}         # optional: parameters for every channel that takes them
    snr_db = [1, 4, 7, 10, 13]
    csi = ["perfect", "estimated"]           # optional (default "perfect"): a mode or a list of them
    crop = 224                               # optional: centre crops (default: whole images)
    images = ["kodim05.png"]                 # optional: only these files
    limit = 40                               # optional: at most this many images
    split = "val"                            # optional, segmentation (CamVid expressions: "train:0006R0")
    seed = 0                                 # optional: image i draws its channel from seed + i
    steps = 1                                # optional: diffusion steps of the proposed system
    block_len = 0                            # optional: fading coherence of block-fading channels
    noiseless = true                         # optional (default true): each system's noiseless point
    shards = 4                               # optional: split each cell's images into this many tasks
    preset = "cpu"                           # optional, with weights = "default", baseline_weights, device

Every combination of system, channel, CSI and SNR is one cell: one SNR point of one system, as `semcom eval`
computes it, written as the same JSON. A cell's key is a digest of everything its numbers depend on: the system
and the digest of the weights it loads (for the proposed system, of what its task uses of the checkpoint:
``shared.weights.task_digest``, so new segmentation parts keep every reconstruction cell), the task, the data
set (folder name, split, crop, files, limit), the channel and its parameters, the CSI, the SNR, the seed and the
steps. Paths and devices are not in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from semcom import systems
from semcom.train.options import train_tasks
from shared import tasks
from shared.channel import CSI_MODES, MODELS, ChannelSpec
from shared.weights import REPO_WEIGHTS, file_sha256, resolve_weights, task_digest


def identity_key(identity: dict) -> str:
    """A cell's key: the sha256 of its identity (``Cell.identity``, also stored in its JSON as "cell")."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class SpecError(ValueError):
    """A spec that cannot be run: one line naming the sweep table and the field."""


@dataclass(frozen=True)
class Cell:
    task: str
    system: str
    data: str
    channel: str
    params: tuple[tuple[str, float], ...]
    csi: str
    snr_db: float
    split: str = "val"
    crop: int = 0
    images: tuple[str, ...] = ()
    limit: int | None = None
    seed: int = 0
    steps: int | None = None
    block_len: int = 0
    shards: int = 1
    preset: str = "cpu"
    weights: str = "default"
    baseline_weights: str = "weights/baselines"
    linear_weights: str = ""
    device: str = "cpu"
    weights_sha256: str = field(default="", compare=False)

    @property
    def labelled(self) -> bool:
        """Its task's output is a label map, scored against the data set's labels (the task table says)."""
        return tasks.get(self.task).labelled

    @property
    def spec(self) -> ChannelSpec:
        return ChannelSpec(self.channel, self.snr_db, self.block_len, self.csi, self.params)

    def identity(self) -> dict:
        """What the cell's numbers depend on, and nothing else."""
        return {"task": self.task, "system": self.system, "weights_sha256": self.weights_sha256,
                "dataset": Path(self.data).name, "split": self.split if self.labelled else None,
                "crop": self.crop, "images": list(self.images), "limit": self.limit, "channel": self.channel,
                "params": dict(self.params), "block_len": self.block_len, "csi": self.csi, "snr_db": self.snr_db,
                "seed": self.seed, "steps": self.steps if self.system == "proposed" else None}

    @property
    def key(self) -> str:
        return identity_key(self.identity())

    def as_dict(self) -> dict:
        """Plain data (what a Ray task is sent)."""
        d = asdict(self)
        d["params"], d["images"] = [list(p) for p in self.params], list(self.images)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Cell":
        d = dict(d)
        d["params"] = tuple(tuple(p) for p in d["params"])
        d["images"] = tuple(d["images"])
        return Cell(**d)


KNOWN = {"task", "systems", "data", "channels", "params", "snr_db", "csi", "crop", "images", "limit", "split", "seed",
         "steps", "block_len", "noiseless", "shards", "preset", "weights", "baseline_weights", "linear_weights",
         "device"}


def load(path: str | Path) -> list[Cell]:
    """The cells of every [[sweep]] table of a TOML spec, in order, each once; SpecError for a mistake."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not TOML: {exc}") from None
    tables = doc.get("sweep", [])
    if not isinstance(tables, list) or (not tables and not doc.get("train")):
        raise SpecError(f"{path} has no [[sweep]] table")
    cells: dict[str, Cell] = {}
    for i, table in enumerate(tables, start=1):
        for cell in expand(table, f"{path.name} [[sweep]] #{i}"):
            cells.setdefault(cell.key, cell)
    return list(cells.values())


def _list(table: dict, key: str, where: str, default=None) -> list:
    value = table.get(key, default)
    if value is None:
        raise SpecError(f"{where}: {key} is required")
    return value if isinstance(value, list) else [value]


def expand(table: dict, where: str) -> list[Cell]:
    unknown = set(table) - KNOWN
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN))}")
    task = table.get("task")
    if task not in tasks.names():
        raise SpecError(f"{where}: task must be one of {', '.join(tasks.names())}, not {task!r}")
    data = table.get("data")
    if not isinstance(data, str):
        raise SpecError(f"{where}: data (a folder) is required")
    data_path = Path(expand_vars(data))  # relative paths: to where the command runs, as semcom eval's
    if not data_path.is_dir():
        raise SpecError(f"{where}: no such data folder: {data_path}")
    names = [str(s) for s in _list(table, "systems", where)]
    for name in names:
        try:
            systems.get(name, task)
        except KeyError as exc:
            raise SpecError(f"{where}: {exc.args[0]}") from None
    common = table.get("params", {})
    if not isinstance(common, dict):
        raise SpecError(f"{where}: params must be a table of channel parameters")
    channels = []
    for entry in _list(table, "channels", where):
        if isinstance(entry, str):
            model, own = entry, {}
        elif isinstance(entry, dict) and isinstance(entry.get("model"), str):
            model, own = entry["model"], {k: v for k, v in entry.items() if k != "model"}
        else:
            raise SpecError(f"{where}: a channel is a model name or a table with model = NAME, not {entry!r}")
        if model not in MODELS:
            raise SpecError(f"{where}: unknown channel model {model!r}; known: {', '.join(MODELS)}")
        takes = {p.name for p in MODELS[model].params}
        chosen = {k: v for k, v in common.items() if k in takes} | own
        channels.append((model, tuple(sorted((k, float(v)) for k, v in chosen.items()))))
    modes = [str(m) for m in _list(table, "csi", where, "perfect")]
    for m in modes:
        if m not in CSI_MODES:
            raise SpecError(f"{where}: csi {m!r} is not one of {', '.join(CSI_MODES)}")
    snrs = [float(s) for s in _list(table, "snr_db", where)]
    opts = dict(split=str(table.get("split", "val")), crop=int(table.get("crop", 0)),
                images=tuple(str(s) for s in table.get("images", ())), limit=table.get("limit"),
                seed=int(table.get("seed", 0)), steps=table.get("steps"), block_len=int(table.get("block_len", 0)),
                shards=int(table.get("shards", 1)), preset=str(table.get("preset", "cpu")),
                weights=expand_vars(str(table.get("weights", "default"))),
                baseline_weights=expand_vars(str(table.get("baseline_weights", "weights/baselines"))),
                linear_weights=str(table.get("linear_weights", "")), device=str(table.get("device", "cpu")))
    if opts["shards"] < 1:
        raise SpecError(f"{where}: shards must be 1 or more")
    cells = []
    for name in names:
        try:
            sha = weights_identity(name, task, opts)
        except (FileNotFoundError, ValueError) as exc:
            raise SpecError(f"{where}: {name}'s weights: {exc}") from None
        for model, params in channels:
            for mode in modes:
                for snr in snrs:
                    cell = Cell(task, name, str(data_path), model, params, mode, snr, weights_sha256=sha, **opts)
                    try:
                        cell.spec.validate()
                    except ValueError as exc:
                        raise SpecError(f"{where}: {exc}") from None
                    cells.append(cell)
        if table.get("noiseless", True):  # as `semcom eval`: decoded at the highest SNR, the receiver told h
            cells.append(Cell(task, name, str(data_path), "noiseless", (), "perfect", max(snrs), weights_sha256=sha,
                              **opts))
    return cells


DEFAULTS = {"SEMCOM_DATA": "../shared/data"}  # what $SEMCOM_DATA means in a spec when the environment is silent


def expand_vars(text: str) -> str:
    """$VAR and ${VAR} from the environment ($SEMCOM_DATA defaults to ../shared/data); others stay as written."""
    env = {**DEFAULTS, **os.environ}
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


@dataclass(frozen=True)
class Training:
    """One [[train]] table: a system trained for the sweep's budget (``semcom train`` in a task of its own)."""

    system: str
    task: str
    args: tuple[str, ...]
    out: str  # its run folder (out/SYSTEM): on a cluster, storage every node reaches
    time_budget: float
    num_cpus: float

    def command(self) -> list[str]:
        return ["semcom", "train", "--system", self.system, "--task", self.task, *self.args, "--out", self.out,
                "--time-budget", f"{self.time_budget:g}", "--resume"]


def trainings(path: str | Path) -> list[Training]:
    """The [[train]] tables of a spec, with the [training] table's budget, folder, CPUs and common arguments:
    every system gets the same budget and the same resources."""
    doc = tomllib.loads(Path(path).read_text())
    tables = doc.get("train", [])
    if not tables:
        return []
    common = doc.get("training", {})
    for key in ("out", "time_budget"):
        if key not in common:
            raise SpecError(f"{Path(path).name}: [training] needs {key} for its [[train]] tables")
    budget, cpus = float(common["time_budget"]), float(common.get("num_cpus", 1))
    shared = [expand_vars(str(a)) for a in common.get("args", [])]
    out = []
    for i, table in enumerate(tables, start=1):
        system, task = table.get("system"), table.get("task")
        if system not in systems.trainable():
            raise SpecError(f"{Path(path).name} [[train]] #{i}: system must be one of "
                            f"{', '.join(systems.trainable())}, not {system!r}")
        if task not in train_tasks():
            raise SpecError(f"{Path(path).name} [[train]] #{i}: task must be one of {', '.join(train_tasks())}")
        args = tuple(shared + [expand_vars(str(a)) for a in table.get("args", [])])
        out.append(Training(system, task, args, str(Path(expand_vars(str(common["out"]))) / system), budget, cpus))
    return out


def weights_identity(system: str, task: str, opts: dict) -> str:
    """The digest of what `system` loads (the proposed system's checkpoint, a learned baseline's, the linear codes'
    patch PCA, the FCN of the digital chains' segmentation); '' for a system with no weights."""

    def checkpoint(folder: Path) -> str:
        doc = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
        weights = folder / "model.safetensors"
        return doc.get("sha256") or (file_sha256(weights) if weights.exists() else "")

    if system == "proposed":  # what this task uses of the checkpoint: new weights for one task keep the other's cells
        _, path = resolve_weights(opts["preset"], opts["weights"])
        return task_digest(path, task) if path else ""
    if system in ("linear", "softcast"):
        pca = Path(opts["linear_weights"] or REPO_WEIGHTS / "linear") / "pca.safetensors"
        return file_sha256(pca) if pca.exists() else ""
    learned = "fcn" if system.startswith("fcn-") else system
    folder = Path(opts["baseline_weights"]) / learned
    return checkpoint(folder) if folder.is_dir() else ""
