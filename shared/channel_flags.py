"""The channel flag family, made from ``shared.channel.MODELS`` and defined once for every tool that chooses a
channel (``txclient send``, ``semcom eval``, ``semcom bench diffusion``; ``semcom train`` takes the parameter flags
for its ``--fading`` channel).

``add_channel_flags``: --channel, --block-len (default 0: one fading block per transmission), one flag per
parameter a model declares (``k_factor`` -> ``--k-factor``; a flag given for a model that does not take it is
refused by ``ChannelSpec.validate``) and --csi / --no-csi.
"""

from __future__ import annotations

import argparse

from shared.channel import CSI_MODES, MODELS, ChannelParam, model_names


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


def counting(upper: int):
    """An argparse type: a whole number from 0 to `upper` (what the proto's unsigned fields can carry)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= upper:
            raise argparse.ArgumentTypeError(f"{value} is outside 0 to {upper}")
        return value
    return parse


def add_channel_flags(p: argparse.ArgumentParser, noisy: bool = False, channel_help: str = "") -> None:
    """--channel (every model, or with `noisy` those with noise: an evaluation adds the noiseless point itself),
    --block-len, the models' parameter flags and the CSI flags."""
    models = [m for m in MODELS.values() if m.name in model_names(noisy=noisy)]
    p.add_argument("--channel", default="awgn", choices=[m.name for m in models],
                   help=channel_help or "; ".join(f"{m.name}: {m.help}" for m in models) + " (default awgn)")
    p.add_argument("--block-len", type=counting(2**32 - 1), default=0,
                   help="fading coherence in symbols (default 0: one block per transmission)")
    add_param_flags(p)
    add_csi_flags(p)
