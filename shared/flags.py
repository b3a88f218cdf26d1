"""The model flag family, defined once for every tool: the services, ``semcom up``, ``semcom eval``,
``semcom train``, the benchmarks. The same names, choices and defaults everywhere, each default overridable by
its ``SEMCOM_*`` environment variable (the channel's flags are ``shared.channel_flags``; the services' own,
such as ports and security, ``shared.service.server_args``)."""

from __future__ import annotations

import argparse

from shared.config import PRESETS
from shared.endpoints import env

DEFAULT_PRESET, DEFAULT_WEIGHTS, DEFAULT_DEVICE = "cpu", "default", "auto"


def add_model_flags(p: argparse.ArgumentParser, preset: bool = True, weights: bool = True,
                    device: bool = True) -> None:
    """--preset (unless `preset` is False: a tool that takes several, such as ``semcom bench models``),
    --weights (unless `weights` is False: a tool that takes its checkpoint otherwise, such as ``semcom train
    --init``) and --device (unless `device` is False: a tool that runs no model or only on the CPU)."""
    if preset:
        p.add_argument("--preset", default=env("PRESET", DEFAULT_PRESET), choices=list(PRESETS),
                       help=f"model preset (default {DEFAULT_PRESET}; SEMCOM_PRESET)")
    if weights:
        p.add_argument("--weights", default=env("WEIGHTS", DEFAULT_WEIGHTS),
                       help="checkpoint directory, 'default' (the preset's shipped weights, else untrained) or "
                            "'none' (untrained; SEMCOM_WEIGHTS)")
    if device:
        p.add_argument("--device", default=env("DEVICE", DEFAULT_DEVICE),
                       help="cpu, cuda, cuda:N or auto (the first GPU when there is one; SEMCOM_DEVICE)")
