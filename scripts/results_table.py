"""Prints the markdown tables of results/ (used in docs/results.md and weights/README.md).

    python3 scripts/results_table.py            shipped weights' quality and the benchmarks
    python3 scripts/results_table.py --curves [DIR]   the comparison curves (default results/curves,
                                                       scripts/make_curves.sh)
"""

import json
import sys
from pathlib import Path

from shared import tasks

R = Path(__file__).resolve().parent.parent / "results"


def main() -> None:
    rec = json.loads((R / "eval" / "reconstruction_kodak_awgn_proposed.json").read_text())
    seg = json.loads((R / "eval" / "segmentation_camvid_awgn_proposed.json").read_text())
    snrs = rec["snr_db"]
    head = "| metric | " + " | ".join(f"{s:g} dB" for s in snrs) + " | noiseless |"
    print(head)
    print("|" + "---|" * (len(snrs) + 2))
    for name, doc, key, fmt in (("Kodak PSNR (dB)", rec, "psnr", "{:.2f}"), ("Kodak MS-SSIM", rec, "ms_ssim", "{:.4f}"),
                                ("CamVid val mIoU", seg, "miou", "{:.4f}"),
                                ("CamVid val pixel acc.", seg, "pixel_accuracy", "{:.4f}")):
        vals = " | ".join(fmt.format(v) for v in doc["results"][key])
        print(f"| {name} | {vals} | {fmt.format(doc['noiseless'][key])} |")
    print(f"\n{rec['images']} Kodak images whole (768x512), {seg['images']} CamVid val frames; AWGN, CBR "
          f"{rec['cbr']}, {rec['diffusion_steps']} diffusion steps, seed {rec['seed']}; weights sha256 "
          f"{(rec['weights_sha256'] or '')[:12]}.")
    for f in ("bench_models_cpu.json", "bench_models_paper.json"):
        if (R / f).exists():
            doc = json.loads((R / f).read_text())
            for r in doc["results"]:
                secs = {k: round(v["median"], 3) for k, v in r["seconds_per_image"].items()}
                print(f"\n{r['preset']}: {r['parameters']['total'] / 1e6:.1f} M parameters, peak RSS "
                      f"{r['peak_rss_mib']:.0f} MiB, seconds per image: {secs}")
    if (R / "bench_services_224.json").exists():
        doc = json.loads((R / "bench_services_224.json").read_text())
        for task, r in doc["results"].items():
            print(f"\nservices {task} 224x224: p50 {r.get('p50_s')} s through the services vs "
                  f"{r['in_process']['p50_s']} s in-process (ratio {r.get('transport_overhead_ratio_p50')}), "
                  f"{r['completed']} done, {r['failed']} failed")


def curves(root: Path = R / "curves") -> None:
    """Per (data, channel): each system's metric at each SNR, then the proposed system minus each other."""
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        docs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        groups: dict[tuple, list[dict]] = {}
        for d in docs:
            tag = Path(d["dataset"]).name + (f" {d['crop']}x{d['crop']} crops" if d.get("crop") else " whole")
            groups.setdefault((d["task"], tag, d["channel"]), []).append(d)
        for (task, tag, channel), ds in groups.items():
            metric = tasks.get(task).metric
            fmt = "{:.2f}" if metric == "psnr" else "{:.3f}"
            ds.sort(key=lambda d: (d["name"] != "proposed", d["name"]))
            snrs = ds[0]["snr_db"]
            print(f"\n**{task}, {tag}, {channel}, CBR {ds[0]['cbr']}: {metric.upper()}** ({ds[0]['images']} images)\n")
            print("| system | " + " | ".join(f"{s:g} dB" for s in snrs) + " | noiseless |")
            print("|" + "---|" * (len(snrs) + 2))
            for d in ds:
                vals = " | ".join(fmt.format(v) for v in d["results"][metric])
                nl = d.get("noiseless", {}).get(metric)
                print(f"| {d['name']} | {vals} | {fmt.format(nl) if nl is not None else ''} |")
            prop = next((d for d in ds if d["name"] == "proposed"), None)
            if prop is None or len(ds) < 2:
                continue
            print(f"\nproposed minus each system ({metric}):\n")
            print("| vs | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
            print("|" + "---|" * (len(snrs) + 1))
            for d in ds[1:]:
                diff = [a - b for a, b in zip(prop["results"][metric], d["results"][metric])]
                print(f"| {d['name']} | " + " | ".join(("{:+.2f}" if metric == "psnr" else "{:+.3f}").format(v)
                                                      for v in diff) + " |")


if __name__ == "__main__":
    if "--curves" in sys.argv:
        rest = sys.argv[sys.argv.index("--curves") + 1:]
        curves(Path(rest[0]) if rest else R / "curves")
    else:
        main()
