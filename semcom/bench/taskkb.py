"""`semcom bench taskkb`: the similarity scores the task KB's threshold and margin were chosen from."""

from __future__ import annotations

import argparse
import sys

from semcom.bench import emit
from shared.task_kb import TaskKB, TaskNotUnderstood

# Tuning half: the requests the memory's phrasings and the threshold were chosen against (a user report's examples and
# the probes used while writing the phrasings among them). Test half: written afterwards and never tuned on.
TUNING = {
    "reconstruction": ["please reconstruct this image", "I want the picture back", "send the photo",
                       "rebuild the image at the receiver", "high fidelity image transmission", "recover the image",
                       "get me a copy of this photo", "transmit this picture", "image recovery", "reconstruct",
                       "draw the image again", "give me back my image"],
    "segmentation": ["segment this image", "which pixels are road and which are sky", "semantic segmentation please",
                     "label the objects in the scene", "classify each pixel", "segmentation",
                     "find the cars and pedestrians", "produce a label map", "scene parsing",
                     "divide the image into regions", "where is the road", "where are the cars",
                     "highlight the pedestrians", "find the sky", "label the scene"],
    None: ["what's the weather", "tell me a joke", "hello", "how much is a flight to Paris", "play some music",
           "what time is it", "translate this to French", "asdfgh", "the quick brown fox", "order a pizza",
           "compute 2+2", "write a poem about love", "delete all files", "who won the match yesterday",
           "where should I go for lunch"],
}
TEST = {
    "reconstruction": ["could you send this picture to the other side", "I need the receiver to get this photograph",
                       "transmit my image please", "reproduce the picture at the destination", "just send the image",
                       "recover my photo after the noisy channel", "can I have the original image back",
                       "pass this snapshot through the link", "faithful copy of the picture, please",
                       "get this jpeg to the receiver", "image transfer", "reconstruct the scene as a picture"],
    "segmentation": ["tell me which parts of the image are road", "paint each object class in its own colour",
                     "separate the buildings from the trees", "I need a per-pixel class map",
                     "detect the road surface and the sidewalk", "classify the regions of this street photo",
                     "show where the pedestrians and bicycles are", "segment the street scene",
                     "what category does each pixel belong to", "mark the sky", "label every region",
                     "which areas are vegetation"],
    None: ["book me a taxi", "what is the capital of France", "how do I bake bread", "set an alarm for 7",
           "recommend a movie", "turn off the lights", "what's my bank balance", "sing happy birthday",
           "how tall is mount everest", "open the calendar", "send an email to my boss", "what is love",
           "good morning", "how are you"],
}
# compatibility: the tuning half under its old names
TASK_REQUESTS = {k: v for k, v in TUNING.items() if k is not None}
OFF_TOPIC = TUNING[None]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench taskkb", description=__doc__)
    p.add_argument("--out")
    args = p.parse_args(argv)

    kb = TaskKB()

    def row(text: str, expected: str | None) -> dict:
        best = kb.similarities(text)
        ranked = sorted(((s, t) for t, (s, _) in best.items()), reverse=True)
        try:
            got = kb.match(text).task
        except TaskNotUnderstood:
            got = None  # refused (below the threshold, ambiguous, or two tasks)
        return {"request": text, "expected": expected, "answer": got, "right": got == expected,
                "best_task": ranked[0][1], "best": round(ranked[0][0], 4),
                "margin": round(ranked[0][0] - ranked[1][0], 4)}

    def half(sets: dict) -> dict:
        rows = [row(t, task) for task, texts in sets.items() for t in texts]
        pos = [r for r in rows if r["expected"]]
        neg = [r for r in rows if not r["expected"]]
        return {"task_requests": {"right": sum(r["right"] for r in pos), "n": len(pos),
                                  "accuracy": round(sum(r["right"] for r in pos) / len(pos), 4),
                                  "min_best": min(r["best"] for r in pos), "min_margin": min(r["margin"] for r in pos)},
                "off_topic": {"refused": sum(r["right"] for r in neg), "n": len(neg),
                              "max_best": max(r["best"] for r in neg)},
                "rows": rows}

    doc = {"benchmark": "taskkb", "threshold": kb.threshold, "margin": kb.margin, "fingerprint": kb.fingerprint,
           "tuning": half(TUNING), "test": half(TEST)}
    return emit(doc, args.out)


if __name__ == "__main__":
    sys.exit(main())
