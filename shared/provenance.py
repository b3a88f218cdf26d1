"""Where a result came from: the code's commit and the software it ran on, one helper for every JSON we write."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from shared.weights import read_config, resolve_weights


def git_commit() -> str:
    """The checkout's commit, or 'unknown' outside git."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def provenance(command: str, seed: int | None = None) -> dict:
    """git commit, torch version, threads, Python, machine and the command line that made a result."""
    import torch

    out = {"git_commit": git_commit(), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "python": platform.python_version(), "machine": platform.machine(), "command": command}
    if seed is not None:
        out["seed"] = seed
    return out


def weights_provenance(preset: str, weights: str | None) -> dict:
    """Which weights a run used: their directory and the sha256 their config records (None when untrained)."""

    _, path = resolve_weights(preset, weights)
    if path is None:
        return {"weights": None, "weights_sha256": None}
    return {"weights": str(path), "weights_sha256": read_config(path)[1].get("sha256")}
