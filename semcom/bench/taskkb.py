"""`semcom bench taskkb`: the similarity scores the task KB's threshold and margin were chosen from."""

from __future__ import annotations

import argparse
import json
import sys

TASK_REQUESTS = {
    "reconstruction": ["please reconstruct this image", "I want the picture back", "send the photo",
                       "rebuild the image at the receiver", "high fidelity image transmission", "recover the image",
                       "get me a copy of this photo", "transmit this picture", "image recovery", "reconstruct"],
    "segmentation": ["segment this image", "which pixels are road and which are sky", "semantic segmentation please",
                     "label the objects in the scene", "classify each pixel", "segmentation",
                     "find the cars and pedestrians", "produce a label map", "scene parsing",
                     "divide the image into regions"],
}
OFF_TOPIC = ["what's the weather", "tell me a joke", "hello", "how much is a flight to Paris", "play some music",
             "what time is it", "translate this to French", "asdfgh", "the quick brown fox", "order a pizza",
             "compute 2+2", "write a poem about love", "delete all files", "who won the match yesterday"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench taskkb", description=__doc__)
    p.add_argument("--out")
    args = p.parse_args(argv)
    from shared.task_kb import TaskKB

    kb = TaskKB()

    def row(text: str, expected: str | None) -> dict:
        best = kb.similarities(text)
        ranked = sorted(((s, t) for t, (s, _) in best.items()), reverse=True)
        return {"request": text, "expected": expected, "best_task": ranked[0][1], "best": round(ranked[0][0], 4),
                "margin": round(ranked[0][0] - ranked[1][0], 4)}

    rows = [row(t, task) for task, texts in TASK_REQUESTS.items() for t in texts] + [row(t, None) for t in OFF_TOPIC]
    pos = [r for r in rows if r["expected"]]
    neg = [r for r in rows if not r["expected"]]
    doc = {
        "benchmark": "taskkb", "threshold": kb.threshold, "margin": kb.margin, "fingerprint": kb.fingerprint,
        "task_requests": {"correct": sum(r["best_task"] == r["expected"] for r in pos), "n": len(pos),
                          "min_best": min(r["best"] for r in pos), "min_margin": min(r["margin"] for r in pos)},
        "off_topic": {"n": len(neg), "max_best": max(r["best"] for r in neg)},
        "rows": rows,
    }
    text = json.dumps(doc, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
