"""The one device picker: services, pipeline, training and evaluation choose devices the same way."""

from __future__ import annotations

import torch


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None): the first CUDA device when there is one, else the CPU; anything else as torch reads it."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
