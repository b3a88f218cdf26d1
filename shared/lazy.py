"""Modules imported on first use, for modules the command-line tools and the client read before they need them
(the channel model table, the system registry, presets, checkpoint paths, txclient): `--help`, argument errors
and a client's start answer in a fraction of a second instead of after torch's import (1.5 to 10 s) or NumPy's
and Pillow's. Written at the top of a module, where an import would be, with the reason beside it."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for a module in a module's globals (under `alias`, by default its last name) until first used,
    then puts the real module there."""

    def __init__(self, name: str, namespace: dict[str, Any], alias: str | None = None) -> None:
        self._name, self._namespace = name, namespace
        self._alias = alias or name.rsplit(".", 1)[-1]

    def __getattr__(self, attr: str):
        real = importlib.import_module(self._name)
        self._namespace[self._alias] = real
        return getattr(real, attr)


def LazyTorch(namespace: dict[str, Any]) -> LazyModule:  # noqa: N802 - reads as the module it stands for
    """``torch``, imported on first use."""
    return LazyModule("torch", namespace)
