"""torch, imported on first use, for modules the command-line tools read before they need it (the channel model
table, the system registry, presets, checkpoint paths): `--help` and argument errors then answer in a fraction of a
second instead of after torch's import (1.5 to 10 s)."""

from __future__ import annotations

from typing import Any


class LazyTorch:
    """Stands for ``torch`` in a module's globals until first used, then puts the real module there."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str):
        import torch as real

        self._namespace["torch"] = real
        return getattr(real, name)
