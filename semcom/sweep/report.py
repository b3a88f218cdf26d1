"""Curves and tables drawn from a sweep's store: one plot per task, data set, channel, CSI and metric, a curve per
system over its SNRs (its noiseless point as a dashed line), and the same numbers as Markdown tables."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path

from semcom.eval.cli import channel_tag, dataset_tag, system_tag

LABELS = {"psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "miou": "mIoU", "pixel_accuracy": "pixel accuracy"}
MARKERS = "osD^v<>pP*Xh"
UNITS = {"ns": "ns", "kmh": "km/h", "ghz": "GHz", "khz": "kHz", "db": "dB"}


def channel_words(channel: str, params: dict[str, float]) -> str:
    """A channel and its parameters in words for titles: TDL-C, delay spread 300 ns, speed 120 km/h (a
    parameter's unit is the last part of its name, as the channel model table writes them)."""
    words = [channel.upper() if channel.startswith("tdl-") else channel]
    for name, value in sorted(params.items()):
        base, _, unit = name.rpartition("_")
        words.append(f"{base.replace('_', ' ')} {value:g} {UNITS[unit]}" if base and unit in UNITS
                     else f"{name.replace('_', ' ')} {value:g}")
    return ", ".join(words)


def groups(docs: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(task, data set, channel, csi, metric) -> system -> {"curve": {snr: value}, "noiseless": value}."""
    out: dict[tuple, dict[str, dict]] = defaultdict(lambda: defaultdict(lambda: {"curve": {}, "noiseless": None}))
    noiseless = [d for d in docs if d["channel"] == "noiseless"]
    for d in docs:
        if d["channel"] == "noiseless":
            continue
        data = dataset_tag(d["dataset"], d.get("crop"), d.get("split"))
        for metric, values in d["results"].items():
            key = (d["task"], data, channel_tag(d["channel"], d["channel_params"]), d["csi"], metric)
            out[key][d["name"]]["curve"][d["snr_db"][0]] = values[0]
    for key, per_system in out.items():
        task, data, _, _, metric = key
        for d in noiseless:
            if (d["task"], dataset_tag(d["dataset"], d.get("crop"), d.get("split"))) == (task, data) and \
                    d["name"] in per_system and metric in d["results"]:
                per_system[d["name"]]["noiseless"] = d["results"][metric][0]
    return out


def write(docs: list[dict], folder: Path) -> list[Path]:
    """PNG plots and TABLES.md in `folder`; returns what it wrote."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written, lines = [], ["# Sweep results", "", "Drawn from the store by `semcom sweep --report`; one cell per "
                          "number, each a `semcom eval` JSON file of the store.", ""]
    words = {channel_tag(d["channel"], d["channel_params"]): channel_words(d["channel"], d["channel_params"])
             for d in docs}
    for (task, data, channel, csi, metric), per_system in sorted(groups(docs).items()):
        snrs = sorted({s for v in per_system.values() for s in v["curve"]})
        title = f"{task}, {data}, {words[channel]}, CSI {csi}"
        lines += [f"## {title}: {LABELS.get(metric, metric)}", "",
                  "| system | " + " | ".join(f"{s:g} dB" for s in snrs) + " | noiseless |",
                  "|---|" + "---|" * (len(snrs) + 1)]
        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
        pale = plt.get_cmap("tab20").colors  # beyond ten systems: tab20's strong colours, then its pale ones
        colours = plt.get_cmap("tab10").colors if len(per_system) <= 10 else pale[0::2] + pale[1::2]
        for i, (name, v) in enumerate(sorted(per_system.items())):
            xs = sorted(v["curve"])
            line, = ax.plot(xs, [v["curve"][x] for x in xs], marker=MARKERS[i % len(MARKERS)], label=name,
                            color=colours[i % len(colours)])
            if v["noiseless"] is not None:
                ax.axhline(v["noiseless"], color=line.get_color(), linestyle="--", linewidth=0.8)
            cells = [f"{v['curve'][s]:.3f}" if s in v["curve"] else "" for s in snrs]
            noiseless = f"{v['noiseless']:.3f}" if v["noiseless"] is not None else ""
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {noiseless} |")
        lines.append("")
        if any(v["noiseless"] is not None for v in per_system.values()):
            ax.plot([], [], color="grey", linestyle="--", linewidth=0.8, label="noiseless (dashed)")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(LABELS.get(metric, metric))
        ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # off the data
        fig.tight_layout()
        path = folder / f"{task}_{data}_{channel}_{csi}_{metric}.png".replace("/", "-")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    tables = folder / "TABLES.md"
    tables.write_text("\n".join(lines) + "\n")
    return [*written, tables]


__all__ = ["groups", "write", "system_tag"]
