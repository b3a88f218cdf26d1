"""Page faults and time of one transmission's tensor work, in the main thread and in worker threads.

    python scripts/page_faults.py [--task reconstruction] [--size 512x768] [--keep-heap] [--runs 8]

Runs the in-process chain (``semcom.pipeline.run_chain``) on a Kodak image: `--runs` times in the main
thread, then in a pool of four threads (as gRPC runs a service's handlers), then in the main thread again;
prints the p50 time and the minor page faults per run (``getrusage``) of each phase, the first two runs of
each left out. With `--keep-heap` the process first calls ``shared.devices.keep_heap()``, as the services do.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from semcom.pipeline import Pipeline, run_chain
from shared.channel import ChannelSpec
from shared.devices import keep_heap, set_threads
from shared.imageio import open_rgb, to_tensor


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default="../shared/data/kodak/kodim23.png")
    p.add_argument("--task", default="reconstruction")
    p.add_argument("--size", default="512x768", help="HxW the image is resized to")
    p.add_argument("--keep-heap", action="store_true")
    p.add_argument("--runs", type=int, default=8)
    a = p.parse_args()

    if a.keep_heap and not keep_heap():
        raise SystemExit("keep_heap() did not take: not glibc?")
    set_threads(0)

    pipe = Pipeline.load()
    h, w = (int(v) for v in a.size.lower().split("x"))
    img = to_tensor(open_rgb(a.image).resize((w, h)))

    def one() -> tuple[float, int]:
        f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        run_chain(pipe.transmitter, pipe.receiver, img, a.task, ChannelSpec(snr_db=10.0), 0)
        return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

    pool = ThreadPoolExecutor(4)
    for name, run in (("main thread", one), ("worker threads", lambda: pool.submit(one).result()),
                      ("main thread", one)):
        rows = [run() for _ in range(a.runs)][2:]
        print(f"{name:15s} p50 {statistics.median(t for t, _ in rows) * 1000:7.0f} ms   "
              f"page faults per run {statistics.mean(f for _, f in rows):8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
