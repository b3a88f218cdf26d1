"""Command-line flags for the channel models' own parameters, made from ``shared.channel.MODELS``.

Every parameter a model declares becomes one flag (``k_factor`` -> ``--k-factor``) on every CLI that
chooses a channel (``txclient send``, ``semcom eval``, ``semcom train``, ``semcom bench diffusion``);
a flag given for a model that does not take it is refused by ``ChannelSpec.validate``.
"""

from __future__ import annotations

import argparse

from shared.channel import CSI_MODES, MODELS, ChannelParam


def _declared() -> dict[str, tuple[ChannelParam, list[str]]]:
    out: dict[str, tuple[ChannelParam, list[str]]] = {}
    for model in MODELS.values():
        for prm in model.params:
            out.setdefault(prm.name, (prm, []))[1].append(model.name)
    return out


def add_param_flags(p: argparse.ArgumentParser) -> None:
    """One float flag per declared channel parameter, default None (= the model's default)."""
    for name, (prm, models) in _declared().items():
        p.add_argument(prm.flag, dest=f"channel_{name}", type=float, default=None, metavar=name.upper(),
                       help=f"{prm.help}; {', '.join(models)} only (default {prm.default:g})")


def add_csi_flags(p: argparse.ArgumentParser) -> None:
    """``--csi perfect|estimated|none`` (what the receiver knows of h) and ``--no-csi``, its old name for none."""
    p.add_argument("--csi", choices=CSI_MODES, default="perfect",
                   help="what the receiver knows of h: perfect (told h), estimated (from pilots: an OFDM model's grid "
                        "pilots, else one pilot per fading block; they count as channel uses) or none (default "
                        "perfect)")
    p.add_argument("--no-csi", dest="csi", action="store_const", const="none", help="= --csi none")


def params_of(args: argparse.Namespace) -> dict[str, float]:
    """The channel parameters given on the command line, by name."""
    return {name: getattr(args, f"channel_{name}") for name in _declared()
            if getattr(args, f"channel_{name}", None) is not None}
