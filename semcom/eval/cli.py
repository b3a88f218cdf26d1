"""`semcom eval`'s work: each system over the data and SNRs, JSON per system, plots (options: ``semcom.eval.options``)."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import torch

from semcom import systems
from semcom.data import Kodak, center_crop, segmentation_dataset
from semcom.eval.options import parse, parse_snr
from semcom.eval.quality import reconstruction_quality, segmentation_quality
from shared import tasks
from shared.channel import Channel, ChannelSpec
from shared.channel_flags import params_of
from shared.classes import colourise as colour_map
from shared.devices import pick_device
from shared.imageio import to_pil
from shared.provenance import provenance
from shared.weights import resolve_weights


def load_images(data: str, names: list[str] | None = None, limit: int | None = None, crop: int = 0
                ) -> list[torch.Tensor]:
    """The images of a folder (Kodak's layout), only `names` when given, at most `limit`, centre-cropped."""
    ds = Kodak(data)
    if names:
        ds.files = [f for f in ds.files if f.name in set(names)]
        if not ds.files:
            raise SystemExit(f"semcom eval: none of {', '.join(names)} in {data}")
    count = len(ds) if limit is None else min(len(ds), limit)
    return [center_crop(ds[i], crop) if crop else ds[i] for i in range(count)]


def load_pairs(data: str, split: str, limit: int | None = None, crop: int = 0
               ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A segmentation data set's (image, labels) pairs of `split`, at most `limit`, centre-cropped."""
    ds = segmentation_dataset(data, split, train=False)
    count = len(ds) if limit is None else min(len(ds), limit)
    pairs = [ds[i] for i in range(count)]
    return [(center_crop(img, crop), center_crop(lab, crop)) for img, lab in pairs] if crop else pairs


def context(args, images: list[torch.Tensor]) -> systems.BuildContext:
    return systems.BuildContext(preset=args.preset, weights=args.weights, baseline_weights=args.baseline_weights,
                                linear_weights=args.linear_weights, device=str(pick_device(args.device)),
                                steps=args.steps,
                                cbr=args.cbr, images=images)


@torch.no_grad()
def evaluate(system: str, args, snrs: list[float]) -> dict:
    from tqdm import tqdm

    try:
        entry = systems.get(system, args.task)
    except KeyError as exc:
        raise SystemExit(f"semcom eval: {exc.args[0]}") from None

    settings = [(s, args.channel) for s in snrs] + [(max(snrs), "noiseless")]
    per_image: dict[str, dict] = {}
    results: dict[str, list] = {}
    noiseless: dict[str, float] = {}
    labelled = tasks.get(args.task).labelled  # label maps scored against labels; images against the image sent
    split = args.split if labelled else None
    if labelled:
        ds = segmentation_dataset(args.data, args.split, train=False)
        pairs = load_pairs(args.data, args.split, args.limit, args.crop)
        images = [img for img, _ in pairs]
    else:
        images = load_images(args.data, args.images.split(",") if args.images else None, args.limit, args.crop)
    built = entry.build(context(args, images), args.task)
    run, classes = built.run, built.classes
    cbr, prov = built.cbr, built.provenance
    pilots = pilot_overhead(ChannelSpec.of(args.channel, 10.0, args.block_len, args.csi, **params_of(args)), cbr,
                            [tuple(img.shape[-2:]) for img in images])
    bar = tqdm(settings, desc=f"eval {system} {args.task}", dynamic_ncols=True)
    for snr, model in bar:
        spec = ChannelSpec.of(model, snr, args.block_len, args.csi,
                              **(params_of(args) if model == args.channel else {}))
        if labelled:
            q = segmentation_quality(run, pairs, spec, *classes, seed=args.seed)
            row = {"miou": q["miou"], "pixel_accuracy": q["pixel_accuracy"]}
            # per class: IoU, and the confusion matrix (rows: true class, columns: predicted; pixels)
            q = {"iou": q["iou"], "confusion": q["confusion"]}
        else:
            q = reconstruction_quality(run, images, spec, seed=args.seed)
            row = {k: sum(v) / len(v) for k, v in q.items() if v}
        bar.set_postfix({k: f"{v:.3f}" for k, v in row.items()} | ({"channel": "noiseless"} if model == "noiseless" else {"snr": snr}))
        if model == "noiseless":
            noiseless = row
        else:
            for k, v in row.items():
                results.setdefault(k, []).append(round(v, 5))
            per_image[str(snr)] = q
    if args.examples:
        spec = ChannelSpec.of(args.channel, args.example_snr, args.block_len, args.csi, **params_of(args))
        folder = Path(args.out) / "examples" / f"{args.task}_{dataset_tag(args.data, args.crop, split)}_{args_channel_tag(args)}_{args.example_snr:g}dB"
        if labelled:
            shown = [(img, colourise(run(img, spec, args.seed + i), classes[0]), colourise(lab, classes[0]))
                     for i, (img, lab) in enumerate(pairs[:args.examples])]
        else:
            shown = [(img, run(img, spec, args.seed + i)) for i, img in enumerate(images[:args.examples])]
        save_examples(folder, system, shown)
    return {
        "name": system, "description": entry.description, "kind": entry.kind, "task": args.task, "dataset": str(args.data),
        "split": split, "crop": args.crop, "images": len(images),
        "class_names": list(getattr(ds, "class_names", ())) if labelled else None,
        "channel": args.channel, "channel_params": ChannelSpec.of(args.channel, **params_of(args)).param_values(),
        "block_len": args.block_len, "csi": args.csi, "cbr": cbr, **pilots, "snr_db": snrs,
        "results": results, "noiseless": noiseless, **prov,
        **provenance("semcom eval " + " ".join(args.argv), args.seed), "per_image": per_image,
    }


def pilot_overhead(spec: ChannelSpec, cbr: str, sizes: list[tuple[int, int]]) -> dict:
    """The pilots' channel uses beside each image's data symbols at `cbr` (an OFDM grid's pilots; one per fading
    block with estimated CSI), summed over the images, and the CBR counting them."""
    channel = Channel.of(spec)
    data = [round(float(Fraction(cbr)) * 3 * h * w) for h, w in sizes]
    pilots = sum(channel.pilot_uses(n) for n in data)
    values = sum(3 * h * w for h, w in sizes)
    return {"pilot_uses": pilots, "cbr_with_pilots": round((sum(data) + pilots) / values, 6)}


def channel_tag(channel: str, params: dict[str, float]) -> str:
    """awgn, rayleigh, or e.g. rician-k_factor3: the model and every parameter value, for file names and plots."""
    return channel + "".join(f"-{k}{v:g}" for k, v in sorted(params.items()))


def args_channel_tag(args) -> str:
    return channel_tag(args.channel, ChannelSpec.of(args.channel, **params_of(args)).param_values())


def system_tag(system: str) -> str:
    """A system's name in a file name: jpeg-16qam-1/2 -> jpeg-16qam-1-over-2 (read back by ``system_of_tag``)."""
    return system.replace("/", "-over-")


def system_of_tag(tag: str) -> str:
    return tag.replace("-over-", "/")


def dataset_tag(data: str, crop: int | None, split: str | None = None) -> str:
    """kodak, camvid-crop224, camvid-train-only-0006R0: the data set, its split when not val, and the crop."""
    part = "" if split in (None, "val") else "-" + split.replace(":", "-only-")
    return Path(data).name + part + (f"-crop{crop}" if crop else "")


def colourise(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(H, W) class indices -> (3, H, W) in [0, 1] in the class colours (shared.classes.colourise)."""

    return torch.from_numpy(colour_map(labels.long().numpy(), num_classes)).permute(2, 0, 1).float() / 255.0


def save_examples(folder: Path, system: str, shown: list[tuple]) -> None:
    """Writes original_<i>.png (and truth_<i>.png for segmentation) once and <system>_<i>.png per system."""

    folder.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(shown):
        to_pil(item[0]).save(folder / f"original_{i}.png")
        to_pil(item[1]).save(folder / f"{system_tag(system)}_{i}.png")
        if len(item) > 2:
            to_pil(item[2]).save(folder / f"truth_{i}.png")


def grid_title(folder: str) -> str:
    """An examples folder's name (task_dataset_channel-tag_SNRdB, the tag's parameters joined by '-' and '_') as
    a title: "reconstruction, kodak, tdl-c (delay_spread_ns300, ...), 7 dB"."""
    task, dataset, rest = (folder.split("_", 2) + ["", ""])[:3]
    channel, _, snr = rest.rpartition("_")
    model, *params = channel.split("-carrier") if "-carrier" in channel else (channel,)
    if params:  # an OFDM tag: model-carrier_ghz..-cp_len..-...
        channel = f"{model} (carrier{params[0].replace('-', ', ')})"
    return f"{task}, {dataset}, {channel}, {snr.replace('dB', ' dB')}"


def example_grids(out: Path) -> list[str]:
    """One PNG per examples folder: rows = images; columns = original, (truth,) then each system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    written = []
    for folder in sorted(p for p in (out / "examples").glob("*") if p.is_dir()):
        n = len(list(folder.glob("original_*.png")))
        systems = sorted({p.stem.rsplit("_", 1)[0] for p in folder.glob("*_*.png")} - {"original", "truth"})
        cols = ["original"] + (["truth"] if (folder / "truth_0.png").exists() else []) + systems
        if not n or not systems:
            continue
        w, h = Image.open(folder / "original_0.png").size
        panel = 2.4  # inches per image across; rows follow the images' aspect, plus room for the titles
        fig, axes = plt.subplots(n, len(cols), figsize=(panel * len(cols), panel * h / w * n + 0.6), dpi=110,
                                 squeeze=False)
        for r in range(n):
            for c, name in enumerate(cols):
                ax = axes[r][c]
                ax.imshow(Image.open(folder / f"{name}_{r}.png"))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(system_of_tag(name), fontsize=7)
        fig.suptitle(grid_title(folder.name), fontsize=8)
        written.append(save_figure(fig, out / f"examples_{folder.name}.png"))
    return written


def save_figure(fig, path: Path) -> str:
    """Lays out, writes and closes a matplotlib figure; its path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def plot(out: Path) -> list[str]:
    """One PNG per (task, dataset tag, channel, metric) from every JSON in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    groups: dict[tuple, list[dict]] = {}
    for d in docs:
        if "results" not in d or "snr_db" not in d:
            continue
        for metric in d["results"]:
            key = (d["task"], dataset_tag(d["dataset"], d.get("crop"), d.get("split")),
                   channel_tag(d["channel"], d.get("channel_params", {})), metric)
            groups.setdefault(key, []).append(d)
    written = []
    for (task, dataset, channel, metric), ds in groups.items():
        fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
        for d in ds:
            ax.plot(d["snr_db"], d["results"][metric], marker="o", label=f"{d['name']} (CBR {d['cbr']})")
            if d.get("noiseless", {}).get(metric) is not None:
                ax.axhline(d["noiseless"][metric], ls=":", lw=1, color=ax.lines[-1].get_color())
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel({"psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "miou": "mIoU",
                       "pixel_accuracy": "pixel accuracy"}.get(metric, metric))
        counts = sorted({d.get("images") for d in ds if d.get("images")})
        shown = ", ".join(map(str, counts)) or "?"
        ax.set_title(f"{task}, {dataset} ({shown} image{'' if counts == [1] else 's'}), {channel}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        written.append(save_figure(fig, out / f"{task}_{dataset}_{channel}_{metric}.png"))
    return written


def run(args) -> int:
    """Evaluates what `args` (``semcom.eval.options.parse``) asks for; 0, or 2 with one line for a mistake."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    snrs = parse_snr(args.snr)
    for system in args.systems.split(","):
        if system not in systems.names():
            print(f"semcom eval: unknown system {system!r}; available: {', '.join(systems.names())}", file=sys.stderr)
            return 2
        if system == "proposed" and args.cbr:
            cfg, _ = resolve_weights(args.preset, args.weights)
            if args.cbr != cfg.encoder.cbr:
                print(f"semcom eval: the weights were trained at CBR {cfg.encoder.cbr}, not {args.cbr}",
                      file=sys.stderr)
                return 2
        try:
            doc = evaluate(system, args, snrs)
        except FileNotFoundError as e:  # a data folder without the expected images or layout
            print(f"semcom eval: {e}", file=sys.stderr)
            return 2
        split = args.split if tasks.get(args.task).labelled else None
        path = out / f"{args.task}_{dataset_tag(args.data, args.crop, split)}_{args_channel_tag(args)}_{system_tag(system)}.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(json.dumps({k: doc[k] for k in ("name", "task", "channel", "cbr", "snr_db", "results", "noiseless")}))
    for png in plot(out) + example_grids(out):
        print(f"wrote {png}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
