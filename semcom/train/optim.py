"""The optimiser's state on disk (for --resume) and the learning-rate schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

from semcom.train.options import TrainConfig
from shared.tensorfile import save_tensors


def save_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    sd = opt.state_dict()
    tensors = {f"state.{i}.{k}": v.detach().cpu().contiguous() if torch.is_tensor(v) else torch.tensor(v)
               for i, st in sd["state"].items() for k, v in st.items()}
    save_tensors(tensors, path / "optimizer.safetensors")
    (path / "optimizer_groups.json").write_text(json.dumps(sd["param_groups"]))


def load_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    tensors = load_file(str(path / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        _, i, k = key.split(".", 2)
        state.setdefault(int(i), {})[k] = v
    groups = json.loads((path / "optimizer_groups.json").read_text())
    opt.load_state_dict({"state": state, "param_groups": groups})


def lr_at(step: int, tc: TrainConfig, time_progress: float = 0.0) -> float:
    """Linear warm-up, then constant or cosine to 10 %.

    With --time-limit the cosine follows whichever ends first, the step budget or the
    time budget (`time_progress`, 0..1 of --time-limit), so a run stopped by the clock
    still ends at the low learning rate.
    """
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    if tc.lr_schedule == "constant":
        return tc.lr
    progress = max((step - tc.warmup) / max(1, tc.steps - tc.warmup), time_progress)
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
