"""`semcom bench services`: the three services on loopback against the same work in-process.

Starts the services as local processes (or uses running ones with --no-start), then
for each task (or, with --mixed, both tasks interleaved in one phase: a soak test):
N concurrent clients send images for a bounded time (or count), each waiting for its
result as txclient does. Reports throughput, p50/p95/p99 latency per task, the
in-process pipeline time of the same image (the transport overhead ratio), failures,
and the memory of each service process (resident at start and end, and peak).

Delivery is audited: a separate subscriber follows the receiver's result stream during
the load; every transmission the transmitter accepted must appear there exactly once
("lost" counts those that never did, "duplicated" those that came twice) and its
client's GetResult must have returned it. JSON out.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import grpc

from semcom.bench import emit
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.service import client_channel

TASK_TEXT = {"reconstruction": "reconstruct the image", "segmentation": "segment this image"}


def test_image(size: tuple[int, int], path: str | None) -> bytes:
    from PIL import Image

    from shared.imageio import open_rgb

    if path:
        img = open_rgb(path)
        w, h = size[1], size[0]
        left, top = max(0, (img.width - w) // 2), max(0, (img.height - h) // 2)
        img = img.crop((left, top, left + w, top + h))
    else:
        import numpy as np

        img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[0], size[1], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def rss_mib(pid: int, field: str = "VmHWM") -> float | None:
    """Resident memory of a process from /proc: VmRSS (now) or VmHWM (peak), MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class Audit:
    """Follows the receiver's result stream and counts how often each transmission id appears."""

    def __init__(self, rx) -> None:
        self.seen: dict[str, int] = {}
        self.errors: list[str] = []
        self._cond = threading.Condition()
        self._call = rx.Subscribe(pb.SubscribeRequest())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for result in self._call:
                with self._cond:
                    self.seen[result.transmission_id] = self.seen.get(result.transmission_id, 0) + 1
                    self._cond.notify_all()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                self.errors.append(f"{err.code().name}: {err.details()}")

    def finish(self, sent: set[str], timeout: float) -> dict:
        with self._cond:
            self._cond.wait_for(lambda: sent <= self.seen.keys(), timeout=timeout)
            seen = dict(self.seen)
        self._call.cancel()
        return {"accepted": len(sent), "lost": len(sent - seen.keys()),
                "duplicated": sum(1 for tid in sent if seen.get(tid, 0) > 1),
                "unexpected": len(seen.keys() - sent), "subscriber_errors": self.errors}


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def _patiently(call, deadline: float):
    """`call()`, again after a short pause while the service answers RESOURCE_EXHAUSTED (at its cap), as a
    well-behaved client does; the load generator never spins on a refusal."""
    pause = 0.05
    while True:
        try:
            return call()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.perf_counter() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def one_send(tx, rx, data: bytes, task: str, seed: int, timeout: float, sent: set[str] | None = None,
             lock: threading.Lock | None = None) -> float:
    t0 = time.perf_counter()
    request = pb.SendRequest(image=data, task=TASK_TEXT[task], channel=pb.ChannelSettings(
        model="awgn", snr_db=10.0, seed=seed))
    reply = _patiently(lambda: tx.Send(request, timeout=timeout), t0 + timeout)
    if sent is not None:
        with lock:
            sent.add(reply.transmission_id)
    result = _patiently(lambda: rx.GetResult(pb.GetResultRequest(transmission_id=reply.transmission_id),
                                             timeout=timeout), t0 + timeout)
    if result.error:
        raise RuntimeError(result.error)
    if result.transmission_id != reply.transmission_id or result.task != task:
        raise RuntimeError(f"GetResult({reply.transmission_id}) returned {result.transmission_id} ({result.task})")
    return time.perf_counter() - t0


def _stats(latencies: list[float], wall: float) -> dict:
    out = {"completed": len(latencies), "throughput_per_s": round(len(latencies) / wall, 3) if wall > 0 else None}
    if latencies:
        out.update({f"p{q}_s": round(percentile(latencies, q), 4) for q in (50, 95, 99)},
                   mean_s=round(statistics.mean(latencies), 4))
    return out


def load(addrs: dict[str, str], data: bytes, tasks: list[str], clients: int, duration: float, count: int | None,
         timeout: float) -> dict:
    """N clients for `duration` s (or `count` transmissions); transmission i carries tasks[i % len(tasks)]."""
    tx = rpc.TransmitterStub(client_channel(addrs["transmitter"]))
    rx = rpc.ReceiverStub(client_channel(addrs["receiver"]))
    audit = Audit(rx)
    latencies: dict[str, list[float]] = {t: [] for t in tasks}
    failures: dict[str, int] = {}
    sent: set[str] = set()
    lock = threading.Lock()
    end = time.monotonic() + duration
    counter = iter(range(10**9))

    def worker() -> None:
        while time.monotonic() < end:
            with lock:
                i = next(counter)
                if count is not None and i >= count:
                    return
            task = tasks[i % len(tasks)]
            try:
                dt = one_send(tx, rx, data, task, i, timeout, sent, lock)
                with lock:
                    latencies[task].append(dt)
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
    out = {"tasks": tasks, "clients": clients, "completed": sum(len(v) for v in latencies.values()),
           "failed": sum(failures.values()), "failures": failures, "wall_s": round(wall, 3),
           "delivery": audit.finish(sent, timeout=min(timeout, 60.0))}
    every = [x for v in latencies.values() for x in v]
    out.update(_stats(every, wall))
    if len(tasks) > 1:
        out["per_task"] = {t: _stats(v, wall) for t, v in latencies.items()}
    return out


def in_process(preset: str, weights: str, data: bytes, task: str, repeats: int) -> dict:
    from semcom.pipeline import Pipeline
    from shared.channel import ChannelSpec
    from shared.imageio import open_rgb, to_tensor

    pipe = Pipeline.load(preset, weights, device="cpu")
    img = to_tensor(open_rgb(data))
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
    p.add_argument("--ports", help="transmitter,channel,receiver ports of the services started (default 50051-50053)")
    p.add_argument("--mixed", action="store_true",
                   help="one load phase with both tasks interleaved (a soak test) instead of one phase per task")
    p.add_argument("--out", help="write the JSON here too")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    data = test_image((h, w), args.image)

    from semcom.launcher import ServiceProcesses

    ports = dict(zip(("transmitter", "channel", "receiver"), map(int, args.ports.split(",")))) if args.ports else None
    services = ServiceProcesses(ports, extra_args=["--preset", args.preset, "--weights", args.weights, "--device", "cpu"])
    results = {}
    started = None
    memory: dict[str, dict] = {}
    phases = {"mixed": list(TASK_TEXT)} if args.mixed else {t: [t] for t in TASK_TEXT}
    try:
        if not args.no_start:
            print("starting services ...", file=sys.stderr)
            started = services.__enter__()
        addrs = {n: services.addr(n) for n in ("transmitter", "channel", "receiver")}
        for task in TASK_TEXT:  # warm-up: first calls load lazily-initialised kernels
            one_send(rpc.TransmitterStub(client_channel(addrs["transmitter"])),
                     rpc.ReceiverStub(client_channel(addrs["receiver"])), data, task, 0, args.timeout)
        if started:
            memory = {n: {"start_rss_mib": rss_mib(proc.pid, "VmRSS")} for n, proc in services.procs.items()}
        for name, tasks in phases.items():
            print(f"load: {name}, {args.clients} client(s) ...", file=sys.stderr)
            results[name] = load(addrs, data, tasks, args.clients, args.duration, args.count, args.timeout)
        for n, proc in (services.procs.items() if started else []):
            memory[n].update(end_rss_mib=rss_mib(proc.pid, "VmRSS"), peak_rss_mib=rss_mib(proc.pid, "VmHWM"))
    finally:
        if started:
            services.__exit__(None, None, None)
    for task in TASK_TEXT:
        print(f"in-process: {task} ...", file=sys.stderr)
        ip = in_process(args.preset, args.weights, data, task, args.repeats)
        row = results[task] if task in results else results["mixed"]["per_task"][task]
        row["in_process"] = ip
        if "p50_s" in row:
            row["transport_overhead_ratio_p50"] = round(row["p50_s"] / ip["p50_s"], 3)
    import torch

    doc = {"benchmark": "services", "command": "semcom bench services " + " ".join(argv or sys.argv[3:]),
           "preset": args.preset, "weights": args.weights, "image": args.image or "random", "size": [h, w],
           "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform()},
           "services_memory_mib": memory, "results": results}
    return emit(doc, args.out)


if __name__ == "__main__":
    sys.exit(main())
