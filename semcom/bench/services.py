"""`semcom bench services`: the three services on loopback against the same work in-process.

Starts the services as local processes (or uses running ones with --no-start).

With one client (the default) it measures what the services add: for each task, the same
image with the same seed goes through the in-process chain and through the services in
turn, --count times each (ABBA order, so a drift of the machine touches both), with the
same torch thread count in every process. "Same work" in-process is what a user gets from
the services: the PNG decoded, the task negotiated on both sides, encode, channel,
decode, and the result encoded as PNG; "chain" leaves the two image codecs out. Reported:
p50/p95 of each, the added latency (ms, p50 and p95 of the paired differences) and the
ratio, and each stage's p50 on both sides (the services' own timings, the client's Send
and GetResult walls, and what no stage accounts for: the wire, serialisation, hand-offs).
With --profile DIR each service is sampled by py-spy during the paired phase.

With N > 1 clients (or --mixed, both tasks interleaved in one phase: a soak test): N
concurrent clients send images for a bounded time (or count), each waiting for its
result as txclient does. Reports throughput, p50/p95/p99 latency per task, and the
memory of each service process (resident at start and end, and peak).

Delivery is audited in both modes: a separate subscriber follows the receiver's result
stream; every transmission the transmitter accepted must appear there exactly once ("lost"
counts those that never did, "duplicated" those that came twice) and its client's
GetResult must have returned it. JSON out, with the provenance of `semcom eval`'s.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import grpc

from receiver import step as rx_step
from semcom.bench import emit
from semcom.launcher import ServiceProcesses
from semcom.pipeline import Pipeline, Timer, run_chain
from shared.channel import ChannelSpec
from shared.devices import keep_heap, set_threads
from shared.endpoints import client_channel
from shared.flags import add_model_flags
from shared.imageio import decode_image, open_rgb, to_tensor
from shared.provenance import provenance, weights_provenance
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc

TASK_TEXT = {"reconstruction": "reconstruct the image", "segmentation": "segment this image"}


def test_image(size: tuple[int, int], path: str | None) -> bytes:
    from PIL import Image

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
             lock: threading.Lock | None = None, stages: dict[str, float] | None = None) -> float:
    """One transmission as txclient makes it (Send, then GetResult); its wall time in seconds. With `stages`,
    the services' own timings and the client's two calls are written there (seconds)."""
    t0 = time.perf_counter()
    request = pb.SendRequest(image=data, task=TASK_TEXT[task], channel=pb.ChannelSettings(
        model="awgn", snr_db=10.0, seed=seed))
    reply = _patiently(lambda: tx.Send(request, timeout=timeout), t0 + timeout)
    t1 = time.perf_counter()
    if sent is not None:
        with lock:
            sent.add(reply.transmission_id)
    result = _patiently(lambda: rx.GetResult(pb.GetResultRequest(transmission_id=reply.transmission_id),
                                             timeout=timeout), t0 + timeout)
    t2 = time.perf_counter()
    if result.error:
        raise RuntimeError(result.error)
    if result.transmission_id != reply.transmission_id or result.task != task:
        raise RuntimeError(f"GetResult({reply.transmission_id}) returned {result.transmission_id} ({result.task})")
    if stages is not None:
        stages.update(dict(reply.timings_s), **dict(result.timings_s), client_send=t1 - t0, client_fetch=t2 - t1)
    return t2 - t0


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


class InProcess:
    """The same work in one process: the pipeline of `semcom.pipeline` with the services' own steps."""

    def __init__(self, preset: str, weights: str) -> None:
        self.pipe = Pipeline.load(preset, weights, device="cpu")

    def once(self, data: bytes, task: str, seed: int) -> dict[str, float]:
        """Seconds per stage of one transmission: decode_image, negotiate, encode, channel, decode, render."""

        timer = Timer()
        with timer.stage("decode_image"):
            img = to_tensor(decode_image(data, len(data), 1 << 40, 1 << 20))
        with timer.stage("negotiate"):
            match = self.pipe.negotiate(TASK_TEXT[task])
        out, t, _ = run_chain(self.pipe.transmitter, self.pipe.receiver, img, match.task, ChannelSpec("awgn", 10.0),
                              seed, None, timer)
        with timer.stage("render"):
            rx_step.render(out, t, self.pipe.receiver)
        return timer.timings


CHAIN = ("negotiate", "encode", "channel", "decode")
# the services' stages (their own timings, then the client's two calls); "unaccounted" is the rest of the wall
SERVICE_STAGES = ("tx_decode_image", "negotiate", "encode", "channel", "rx_queue", "decode", "rx_encode_png")


def _ms(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 50) * 1e3, 2), "p95": round(percentile(values, 95) * 1e3, 2),
            "min": round(min(values) * 1e3, 2)}


def paired(addrs: dict[str, str], local: InProcess, data: bytes, task: str, count: int, timeout: float) -> dict:
    """`count` transmissions in-process and `count` through the services, interleaved ABBA, seed i for pair i."""
    tx = rpc.TransmitterStub(client_channel(addrs["transmitter"]))
    rx = rpc.ReceiverStub(client_channel(addrs["receiver"]))
    audit = Audit(rx)
    sent: set[str] = set()
    lock = threading.Lock()
    by_pair: dict[int, list[float]] = {}  # pair i -> [services, in-process] seconds
    svc_stages: list[dict[str, float]] = []
    ip_stages: list[dict[str, float]] = []
    failures: dict[str, int] = {}

    def through_services(i: int) -> None:
        stages: dict[str, float] = {}
        try:
            by_pair.setdefault(i, [None, None])[0] = one_send(tx, rx, data, task, i, timeout, sent, lock, stages)
            svc_stages.append(stages)
        except (grpc.RpcError, RuntimeError) as exc:
            key = exc.code().name if isinstance(exc, grpc.RpcError) else "DECODE_ERROR"
            failures[key] = failures.get(key, 0) + 1

    def in_process(i: int) -> None:
        t0 = time.perf_counter()
        stages = local.once(data, task, i)
        by_pair.setdefault(i, [None, None])[1] = time.perf_counter() - t0
        ip_stages.append(stages)

    for i in range(count):
        for run in ((in_process, through_services) if i % 4 in (0, 3) else (through_services, in_process)):
            run(i)
    services = [s for s, _ in by_pair.values() if s is not None]
    full = [f for _, f in by_pair.values()]
    chain = [sum(st[k] for k in CHAIN) for st in ip_stages]
    pairs = [s - f for s, f in by_pair.values() if s is not None]
    out = {"count": count, "failed": sum(failures.values()), "failures": failures,
           "delivery": audit.finish(sent, timeout=min(timeout, 60.0))}
    if not services:
        return out
    for st in svc_stages:
        st["unaccounted"] = st["client_send"] + st["client_fetch"] - sum(st.get(k, 0.0) for k in SERVICE_STAGES)
    out.update({
        "services_ms": _ms(services), "in_process_ms": _ms(full), "in_process_chain_ms": _ms(chain),
        "added_ms": {"p50_of_pairs": round(percentile(pairs, 50) * 1e3, 2),
                     "p95_of_pairs": round(percentile(pairs, 95) * 1e3, 2),
                     "difference_of_p50s": round((percentile(services, 50) - percentile(full, 50)) * 1e3, 2)},
        "added_over_chain_ms": {"difference_of_p50s": round((percentile(services, 50) - percentile(chain, 50)) * 1e3,
                                                            2)},
        "transport_overhead_ratio_p50": round(percentile(services, 50) / percentile(full, 50), 3),
        "stages_p50_ms": {
            "services": {k: round(percentile([st.get(k, 0.0) for st in svc_stages], 50) * 1e3, 2)
                         for k in (*SERVICE_STAGES, "transmit", "client_send", "client_fetch", "unaccounted")},
            "in_process": {k: round(percentile([st[k] for st in ip_stages], 50) * 1e3, 2) for k in ip_stages[0]},
        }})
    return out


def _profile_start(pids: dict[str, int], folder: Path) -> list:
    import shutil
    import subprocess

    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("semcom bench services: --profile needs py-spy (pip install py-spy, or the project's "
                         "[bench] extra)")
    folder.mkdir(parents=True, exist_ok=True)
    return [(name, folder / f"{name}.txt", subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "500", "--threads", "--format", "raw",
         "--output", str(folder / f"{name}.txt"), "--nonblocking"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)) for name, pid in pids.items()]


def _profile_stop(spies: list, top: int = 12) -> dict:
    """py-spy's collapsed stacks per service -> the functions where the busy samples sit (self time, share)."""
    import signal

    out = {}
    for name, path, proc in spies:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        own: dict[str, int] = {}
        total = 0
        for line in path.read_text().splitlines() if path.exists() else []:
            stack, _, n = line.rpartition(" ")
            frames = stack.split(";")
            if not n.isdigit() or any(idle in frames[-1] for idle in _IDLE):
                continue
            own[frames[-1]] = own.get(frames[-1], 0) + int(n)
            total += int(n)
        out[name] = {"busy_samples": total, "profile": str(path),
                     "top_self": [{"function": f, "share": round(c / total, 3)}
                                  for f, c in sorted(own.items(), key=lambda kv: -kv[1])[:top]] if total else []}
    return out


# leaf frames of threads that wait: not where a transmission's time goes
_IDLE = ("wait (threading.py", "_wait_once", "select (", "poll (", "epoll", "next_event", "_next (grpc", "sleep",
         "get (queue.py", "acquire", "_run_channel_spin", "wait_for (")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench services", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(p, device=False)  # the services' and the in-process chain's (both on the CPU)
    p.add_argument("--clients", type=int, default=1,
                   help="concurrent clients; 1 (the default) interleaves in-process and services, pair by pair")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load per task (N > 1 clients, --mixed)")
    p.add_argument("--count", type=int,
                   help="transmissions per task: pairs with one client (default 20), a cap under load")
    p.add_argument("--size", default="224x224", help="HxW of the test image")
    p.add_argument("--image", help="crop the test image from this file (default: random pixels)")
    p.add_argument("--repeats", type=int, default=5, help="in-process repetitions under load (N > 1 clients)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads of every service and of the in-process reference (0: one per core)")
    p.add_argument("--no-start", action="store_true", help="use services already running at the default addresses")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--ports", help="transmitter,channel,receiver ports of the services started (default 50051-50053)")
    p.add_argument("--mixed", action="store_true",
                   help="one load phase with both tasks interleaved (a soak test) instead of one phase per task")
    p.add_argument("--profile", metavar="DIR", help="sample each service with py-spy during the paired phase; "
                                                   "collapsed stacks to DIR, the busiest functions to the JSON")
    p.add_argument("--out", help="write the JSON here too")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    data = test_image((h, w), args.image)
    latency = args.clients == 1 and not args.mixed
    count = args.count if args.count is not None else (20 if latency else None)

    heap_kept = keep_heap()  # as the services do: the in-process side runs with the same allocator settings
    threads = set_threads(args.threads)
    local = InProcess(args.preset, args.weights)
    names = ("transmitter", "channel", "receiver")
    ports = dict(zip(names, map(int, args.ports.split(",")), strict=True)) if args.ports else None
    services = ServiceProcesses(ports, extra_args=["--preset", args.preset, "--weights", args.weights,
                                                   "--device", "cpu"],
                                env={"SEMCOM_THREADS": str(args.threads)})
    results: dict = {}
    started = None
    memory: dict[str, dict] = {}
    profile = None
    phases = {"mixed": list(TASK_TEXT)} if args.mixed else {t: [t] for t in TASK_TEXT}
    try:
        if not args.no_start:
            print("starting services ...", file=sys.stderr)
            started = services.__enter__()
        addrs = {n: services.addr(n) for n in ("transmitter", "channel", "receiver")}
        for task in TASK_TEXT:  # warm-up: first calls load lazily-initialised kernels, on both sides
            one_send(rpc.TransmitterStub(client_channel(addrs["transmitter"])),
                     rpc.ReceiverStub(client_channel(addrs["receiver"])), data, task, 0, args.timeout)
            local.once(data, task, 0)
        if started:
            memory = {n: {"start_rss_mib": rss_mib(proc.pid, "VmRSS")} for n, proc in services.procs.items()}
        if latency:
            spies = _profile_start({n: pr.pid for n, pr in services.procs.items()}, Path(args.profile)) \
                if args.profile and started else None
            for task in TASK_TEXT:
                print(f"paired: {task}, {count} in-process and {count} through the services ...", file=sys.stderr)
                results[task] = paired(addrs, local, data, task, count, args.timeout)
            if spies:
                profile = _profile_stop(spies)
        else:
            for name, tasks in phases.items():
                print(f"load: {name}, {args.clients} client(s) ...", file=sys.stderr)
                results[name] = load(addrs, data, tasks, args.clients, args.duration, count, args.timeout)
        for n, proc in (services.procs.items() if started else []):
            memory[n].update(end_rss_mib=rss_mib(proc.pid, "VmRSS"), peak_rss_mib=rss_mib(proc.pid, "VmHWM"))
    finally:
        if started:
            services.__exit__(None, None, None)
    if not latency:
        for task in TASK_TEXT:
            print(f"in-process: {task} ...", file=sys.stderr)
            times = []
            for i in range(args.repeats):
                t0 = time.perf_counter()
                local.once(data, task, i)
                times.append(time.perf_counter() - t0)
            row = results[task] if task in results else results["mixed"]["per_task"][task]
            row["in_process"] = {"p50_s": round(percentile(times, 50), 4), "min_s": round(min(times), 4),
                                 "repeats": args.repeats}
            if "p50_s" in row:
                row["transport_overhead_ratio_p50"] = round(row["p50_s"] / row["in_process"]["p50_s"], 3)
    doc = {"benchmark": "services", "mode": "paired" if latency else "load",
           **provenance("semcom bench services " + " ".join(argv if argv is not None else sys.argv[3:])),
           "preset": args.preset, **weights_provenance(args.preset, args.weights),
           "image": args.image or "random", "size": [h, w], "threads_per_process": threads, "heap_kept": heap_kept,
           "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
           "services_memory_mib": memory, "results": results}
    if profile:
        doc["profile"] = profile
    return emit(doc, args.out)


if __name__ == "__main__":
    sys.exit(main())
