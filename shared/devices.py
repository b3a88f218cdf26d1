"""The one device picker: services, pipeline, training and evaluation choose devices the same way."""

from __future__ import annotations

import torch


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None): the first CUDA device when there is one, else the CPU; anything else as torch reads it."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(n: int) -> int:
    """Intra-op threads for this process (n > 0; 0 keeps torch's default, one per core) and one inter-op
    thread (nothing here runs independent operators side by side); returns the intra-op count in force."""
    if n < 0:
        raise ValueError(f"threads must be 0 (one per core) or more, not {n}")
    if n:
        torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already ran: keep what is there
        pass
    return torch.get_num_threads()
