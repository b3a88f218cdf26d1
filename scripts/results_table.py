"""Prints the markdown tables of results/ (used in docs/results.md and weights/README.md).

    python3 scripts/results_table.py            shipped weights' quality and the benchmarks
(the comparison curves' tables: `semcom sweep sweeps/curves.toml --report`, results/sweep/report/curves/)
"""

import json
from pathlib import Path

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
            print(f"\nservices {task} 224x224: p50 {r['services_ms']['p50']} ms through the services vs "
                  f"{r['in_process_ms']['p50']} ms in-process (ratio {r['transport_overhead_ratio_p50']}), "
                  f"{r['count'] - r['failed']} done, {r['failed']} failed")


if __name__ == "__main__":
    main()
