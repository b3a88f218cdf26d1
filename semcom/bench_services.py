"""`semcom bench services`: the three services on loopback against the same work in-process.

Starts the services as local processes (or uses running ones with --no-start), then
for each task: N concurrent clients send images for a bounded time (or count), each
waiting for its result as txclient does. Reports throughput, p50/p95/p99 latency per
task, the in-process pipeline time of the same image (the transport overhead ratio),
failures, and the peak memory of each service process. JSON out.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import grpc

from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.service import client_channel

TASK_TEXT = {"reconstruction": "reconstruct the image", "segmentation": "segment this image"}


def test_image(size: tuple[int, int], path: str | None) -> bytes:
    from PIL import Image

    if path:
        img = Image.open(path).convert("RGB")
        w, h = size[1], size[0]
        left, top = max(0, (img.width - w) // 2), max(0, (img.height - h) // 2)
        img = img.crop((left, top, left + w, top + h))
    else:
        import numpy as np

        img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[0], size[1], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def one_send(tx, rx, data: bytes, task: str, seed: int, timeout: float) -> float:
    t0 = time.perf_counter()
    reply = tx.Send(pb.SendRequest(image=data, task=TASK_TEXT[task], channel=pb.ChannelSettings(
        model="awgn", snr_db=10.0, seed=seed)), timeout=timeout)
    result = rx.GetResult(pb.GetResultRequest(transmission_id=reply.transmission_id), timeout=timeout)
    if result.error:
        raise RuntimeError(result.error)
    return time.perf_counter() - t0


def load(addrs: dict[str, str], data: bytes, task: str, clients: int, duration: float, count: int | None,
         timeout: float) -> dict:
    tx = rpc.TransmitterStub(client_channel(addrs["transmitter"]))
    rx = rpc.ReceiverStub(client_channel(addrs["receiver"]))
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    end = time.monotonic() + duration
    counter = iter(range(10**9))

    def worker() -> None:
        while time.monotonic() < end:
            with lock:
                i = next(counter)
                if count is not None and i >= count:
                    return
            try:
                dt = one_send(tx, rx, data, task, i, timeout)
                with lock:
                    latencies.append(dt)
            except (grpc.RpcError, RuntimeError) as exc:
                key = exc.code().name if isinstance(exc, grpc.RpcError) else "DECODE_ERROR"
                with lock:
                    failures[key] = failures.get(key, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    out = {"task": task, "clients": clients, "completed": len(latencies), "failed": sum(failures.values()),
           "failures": failures, "wall_s": round(wall, 3),
           "throughput_per_s": round(len(latencies) / wall, 3) if wall > 0 else None}
    if latencies:
        out.update({f"p{q}_s": round(percentile(latencies, q), 4) for q in (50, 95, 99)},
                   mean_s=round(statistics.mean(latencies), 4))
    return out


def in_process(preset: str, weights: str, data: bytes, task: str, repeats: int) -> dict:
    from PIL import Image

    from semcom.pipeline import Pipeline
    from shared.channel import ChannelSpec
    from shared.imageio import to_tensor

    pipe = Pipeline.load(preset, weights, device="cpu")
    img = to_tensor(Image.open(io.BytesIO(data)).convert("RGB"))
    pipe.run(img, TASK_TEXT[task], ChannelSpec("awgn", 10.0))
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        pipe.run(img, TASK_TEXT[task], ChannelSpec("awgn", 10.0), seed=i)
        times.append(time.perf_counter() - t0)
    return {"p50_s": round(percentile(times, 50), 4), "min_s": round(min(times), 4), "repeats": repeats}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench services", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--weights", default="default")
    p.add_argument("--clients", type=int, default=1, help="concurrent clients")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load per task")
    p.add_argument("--count", type=int, help="stop after this many transmissions per task")
    p.add_argument("--size", default="224x224", help="HxW of the test image")
    p.add_argument("--image", help="crop the test image from this file (default: random pixels)")
    p.add_argument("--repeats", type=int, default=5, help="in-process repetitions")
    p.add_argument("--no-start", action="store_true", help="use services already running at the default addresses")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--out", help="write the JSON here too")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    data = test_image((h, w), args.image)

    from semcom.launcher import ServiceProcesses

    services = ServiceProcesses(extra_args=["--preset", args.preset, "--weights", args.weights, "--device", "cpu"])
    results = {}
    started = None
    try:
        if not args.no_start:
            print("starting services ...", file=sys.stderr)
            started = services.__enter__()
        addrs = {n: services.addr(n) for n in ("transmitter", "channel", "receiver")}
        one_send(rpc.TransmitterStub(client_channel(addrs["transmitter"])),
                 rpc.ReceiverStub(client_channel(addrs["receiver"])), data, "reconstruction", 0, args.timeout)
        for task in TASK_TEXT:
            print(f"load: {task}, {args.clients} client(s) ...", file=sys.stderr)
            results[task] = load(addrs, data, task, args.clients, args.duration, args.count, args.timeout)
        memory = {n: peak_rss_mib(proc.pid) for n, proc in services.procs.items()} if started else {}
    finally:
        if started:
            services.__exit__(None, None, None)
    for task in TASK_TEXT:
        print(f"in-process: {task} ...", file=sys.stderr)
        ip = in_process(args.preset, args.weights, data, task, args.repeats)
        results[task]["in_process"] = ip
        if "p50_s" in results[task]:
            results[task]["transport_overhead_ratio_p50"] = round(results[task]["p50_s"] / ip["p50_s"], 3)
    import torch

    doc = {"benchmark": "services", "command": "semcom bench services " + " ".join(argv or sys.argv[3:]),
           "preset": args.preset, "weights": args.weights, "image": args.image or "random", "size": [h, w],
           "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform()},
           "services_peak_rss_mib": memory, "results": results}
    text = json.dumps(doc, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
