"""What a second thread's tensor work costs the first: one transmission's in-process chain, timed on one thread
before and after another thread has run the same chain once.

    python scripts/omp_teams.py [--task segmentation] [--size 224x224] [--runs 10]

Everything (loading included) runs on one worker thread (as a service would if all its tensor work went
through one thread: docs/services.md, "One compute thread"); the script prints the p50 of `--runs` chains
(the first two left out) on that thread, then the same after one chain on a second thread, then on the second
thread itself. Where libgomp's idle threads may
spin (OpenMP threads no more than cores) the first phase is the fast one; once a second thread has its own
OpenMP team, every thread's operators pay a sleep and a wake-up. Compare ``OMP_WAIT_POLICY=PASSIVE python
scripts/omp_teams.py`` (never spinning: every phase at the slow figure).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from shared.devices import keep_heap


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default="../shared/data/kodak/kodim23.png")
    p.add_argument("--task", default="segmentation")
    p.add_argument("--size", default="224x224", help="HxW the image is resized to")
    p.add_argument("--runs", type=int, default=10)
    a = p.parse_args()
    keep_heap()
    first, second = ThreadPoolExecutor(1), ThreadPoolExecutor(1)

    def setup():
        from semcom.pipeline import Pipeline, run_chain
        from shared.channel import ChannelSpec
        from shared.devices import set_threads
        from shared.imageio import open_rgb, to_tensor

        set_threads(0)
        pipe = Pipeline.load()
        h, w = (int(v) for v in a.size.lower().split("x"))
        img = to_tensor(open_rgb(a.image).resize((w, h)))

        def one() -> float:
            t0 = time.perf_counter()
            run_chain(pipe.transmitter, pipe.receiver, img, a.task, ChannelSpec(snr_db=10.0), 0)
            return time.perf_counter() - t0
        return one

    one = first.submit(setup).result()

    def phase(name: str, pool: ThreadPoolExecutor) -> None:
        rows = [pool.submit(one).result() for _ in range(a.runs)][2:]
        print(f"{name:40s} p50 {statistics.median(rows) * 1000:6.0f} ms", flush=True)

    phase("one thread", first)
    second.submit(one).result()
    phase("the same thread, after a second one ran", first)
    phase("the second thread", second)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
