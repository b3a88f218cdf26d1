"""`txclient`: send an image with a task request, watch results, list tasks.

    txclient send IMAGE --task "TEXT" [--snr DB] [--channel MODEL [--k-factor K ...]] [--block-len N] [--csi perfect|estimated|none]
                        [--seed N] [--steps N] [--id ID] [--out DIR] [--json]
    txclient watch [--out DIR]
    txclient tasks

Channel models (--channel): awgn, rayleigh, rician, noiseless and any other of the channel model table
(`txclient send --help` lists each with its own parameters).

Service addresses: --transmitter / --receiver, or SEMCOM_TRANSMITTER_ADDR / SEMCOM_RECEIVER_ADDR
(default localhost:50051 and localhost:50053). A failed call prints one line starting with
the gRPC status name (e.g. ``INVALID_ARGUMENT: ...``) and exits 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import sys
import threading
import time
from pathlib import Path

import grpc

from semcom.client import (ClientError, ServiceError, explain, fetch_result, fit_within, output_kind, printable,
                           quality, with_pilots, write_outputs)
from shared.channel import ChannelSpec
from shared.channel_flags import add_channel_flags, counting, params_of
from shared.endpoints import client_channel, default_addr, env
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security, add_security_args


def _spinner(message: str, stop: threading.Event) -> None:
    for ch in itertools.cycle("|/-\\"):
        if stop.wait(0.15):
            break
        sys.stderr.write(f"\r{message} {ch}")
        sys.stderr.flush()
    sys.stderr.write("\r" + " " * (len(message) + 2) + "\r")


class Progress:
    """A spinner on stderr while waiting, when stderr is a terminal."""

    def __init__(self, message: str, enabled: bool) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_spinner, args=(message, self.stop), daemon=True) if enabled else None

    def __enter__(self):
        if self.thread:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread:
            self.thread.join()


def settings_params(args) -> dict[str, float]:
    """Every parameter of the chosen channel model, given or default (a Rician channel always shows its K)."""
    return ChannelSpec.of(args.channel, **params_of(args)).param_values()


def cmd_send(args) -> int:
    path = Path(args.image)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror or exc}") from None
    if args.resize:
        data = fit_within(data, args.resize, path)
    if args.seed is None:
        args.seed = secrets.randbits(63)
    settings = pb.ChannelSettings(model=args.channel, snr_db=args.snr, block_len=args.block_len, csi=args.csi != "none", csi_mode=args.csi,
                                  seed=args.seed, params=params_of(args))
    tx = rpc.TransmitterStub(client_channel(args.transmitter, args.security))
    rx_conn = client_channel(args.receiver, args.security)
    started = time.perf_counter()
    rx_ready = grpc.channel_ready_future(rx_conn)  # connects to --receiver while the image is sent
    show = sys.stderr.isatty() and not args.json
    with Progress("sending", show):
        try:
            reply = tx.Send(pb.SendRequest(image=data, task=args.task, channel=settings, diffusion_steps=args.steps,
                                           transmission_id=args.id or ""), timeout=args.timeout)
        except grpc.RpcError as err:
            raise explain(err, "transmitter", args.transmitter) from None
    if not args.json:
        print(f"task: {printable(reply.task)} (score {reply.score:.3f})")
        print(f"transmission: {printable(reply.transmission_id)}  {reply.width}x{reply.height}")
        given = "".join(f", {k} {v:g}" for k, v in sorted(settings_params(args).items()))
        print(f"channel: {args.channel}{given} at {args.snr:g} dB (realised {reply.realised_snr_db:.2f} dB), "
              f"{reply.channel_uses} channel uses, CBR {reply.cbr:.5f} (1/{1 / reply.cbr:.1f})"
              + (f"; with {reply.pilot_uses} pilot uses {with_pilots(reply):.5f}" if reply.pilot_uses else "")
              + f", seed {args.seed}")
    sent_s = time.perf_counter() - started
    try:  # the result comes from --receiver: say now if it does not answer, not after a deadline's wait
        rx_ready.result(timeout=max(0.1, min(5.0, started + args.timeout - time.perf_counter())))
    except grpc.FutureTimeoutError:
        raise ClientError(f"transmission {printable(reply.transmission_id)} was sent, but the receiver at {args.receiver} "
                          "(--receiver or SEMCOM_RECEIVER_ADDR) does not answer, so its result cannot be fetched: "
                          "check the address; `txclient watch` or GetResult with that id fetches it later") from None
    with Progress("waiting for the receiver", show):
        try:
            result = fetch_result(rx_conn, reply.transmission_id, started + args.timeout)
        except grpc.RpcError as err:
            raise explain(err, "receiver", args.receiver) from None
    result_s = time.perf_counter() - started
    if result.error:
        return _fail(args, "INTERNAL", result.error, 1)
    try:
        outputs = write_outputs(result, Path(args.out), path.stem, data)
    except OSError as exc:
        raise ClientError(f"cannot write results to {args.out}: {exc.strerror or exc}") from None
    image = output_kind(result) == "image"
    q = quality(data, result, args.ms_ssim) if image else {}
    total_s = time.perf_counter() - started  # what the user waited: files and quality included
    doc = {"task": result.task, "score": round(reply.score, 4), "transmission_id": reply.transmission_id,
           "sequence": result.sequence, "channel": args.channel, "channel_params": settings_params(args), "snr_db": args.snr, "seed": args.seed,
           "realised_snr_db": round(result.realised_snr_db, 3), "channel_uses": result.channel_uses,
           "cbr": result.cbr, "pilot_uses": result.pilot_uses, "cbr_with_pilots": round(with_pilots(result), 6),
           "csi": args.csi, "height": result.height, "width": result.width,
           "psnr_db": q.get("psnr_db"), "ms_ssim": q.get("ms_ssim"), "outputs": outputs,
           "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()}, "total_s": round(total_s, 4),
           "client_s": {"send": round(sent_s, 4), "result": round(result_s - sent_s, 4),
                        "files_and_quality": round(total_s - result_s, 4)}}
    if image:
        doc["diffusion_steps"] = result.diffusion_steps
    else:
        doc["class_names"] = list(result.class_names)
    if args.json:
        print(json.dumps(doc))
    else:
        if q:
            print("quality: PSNR {:.2f} dB".format(q["psnr_db"]) +
                  (f", MS-SSIM {q['ms_ssim']:.4f}" if "ms_ssim" in q else ""))
        print(f"time: {total_s:.2f} s in all: sending {sent_s:.2f} s, waiting for the result {result_s - sent_s:.2f} s "
              f"(receiver decode {result.timings_s.get('decode', 0):.2f} s), files and quality "
              f"{total_s - result_s:.2f} s")
        for o in outputs:
            print(f"wrote {o}")
    return 0


def cmd_watch(args) -> int:
    rx = rpc.ReceiverStub(client_channel(args.receiver, args.security))
    last, epoch = args.after, args.epoch
    count = 0
    backoff = 0.5
    while args.max is None or count < args.max:
        try:
            for result in rx.Subscribe(pb.SubscribeRequest(after_sequence=last, epoch=epoch)):
                backoff = 0.5
                if result.epoch == epoch and result.sequence <= last:
                    continue  # already seen before a reconnect
                if result.epoch != epoch:  # the receiver restarted: a new numbering
                    epoch = result.epoch
                last = result.sequence
                count += 1
                try:
                    outputs = write_outputs(result, Path(args.out), "watch", None) if args.out else []
                except (ClientError, OSError) as exc:  # one result's files, not the watch
                    print(f"error: {printable(exc)}", file=sys.stderr, flush=True)
                    outputs = []
                line = {"epoch": result.epoch, "sequence": result.sequence, "transmission_id": result.transmission_id,
                        "task": result.task, "snr_db": result.channel.snr_db, "channel": result.channel.model,
                        "cbr": result.cbr, "height": result.height, "width": result.width,
                        "error": result.error or None, "outputs": outputs}
                print(json.dumps(line), flush=True)
                if args.max is not None and count >= args.max:
                    return 0
            if not args.reconnect:
                return 0  # the receiver ended the stream (shutting down)
            print(f"stream ended (receiver stopping?) - reconnecting in {backoff:.1f} s", file=sys.stderr, flush=True)
        except grpc.RpcError as err:
            # UNAVAILABLE: the receiver is away; RESOURCE_EXHAUSTED: this reader fell behind (or the receiver has
            # all the watchers it takes): both resume after the last result seen, losing nothing it still keeps
            resumable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
            if err.code() not in resumable or not args.reconnect:
                raise explain(err, "receiver", args.receiver) from None
            print(f"{err.code().name}: {printable(err.details())} - resuming after sequence {last} in {backoff:.1f} s",
                  file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
    return 0


def cmd_tasks(args) -> int:
    try:
        reply = rpc.TransmitterStub(client_channel(args.transmitter, args.security)).ListTasks(
            pb.ListTasksRequest(), timeout=args.timeout)
    except grpc.RpcError as err:
        raise explain(err, "transmitter", args.transmitter) from None
    if args.json:
        print(json.dumps({"kb_fingerprint": reply.kb_fingerprint, "threshold": reply.threshold,
                          "tasks": {t.name: list(t.instructions) for t in reply.tasks}}))
        return 0
    print(f"task KB {printable(reply.kb_fingerprint)} (requests scoring below {reply.threshold:.2f} are refused)")
    for t in reply.tasks:
        print(printable(f"{t.name}: " + "; ".join(t.instructions)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="txclient", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transmitter", default=default_addr("transmitter"), help="transmitter address")
    p.add_argument("--receiver", default=default_addr("receiver"), help="receiver address")
    p.add_argument("--timeout", type=float, default=env("CLIENT_TIMEOUT_S", 300.0), help="deadline per call, seconds")
    add_security_args(p, env)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send", help="send one image")
    s.add_argument("image")
    s.add_argument("--task", required=True, help='the task in plain language, e.g. "segment this image"')
    s.add_argument("--snr", type=float, default=10.0, help="SNR in dB (default 10)")
    add_channel_flags(s)
    s.add_argument("--seed", type=counting(2**64 - 1), default=None,
                   help="fixes the channel realisation and the diffusion sampler (default: a fresh random seed per "
                        "send, printed with the result, so repeated sends average over channel draws)")
    s.add_argument("--steps", type=counting(2**32 - 1), default=0,
                   help="diffusion sampling steps (0 = receiver default)")
    s.add_argument("--id", help="transmission id (default: made by the transmitter)")
    s.add_argument("--out", default="out", help="folder for the results (default ./out)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--ms-ssim", action="store_true",
                   help="also compute MS-SSIM of a reconstruction (loads torch: a second or more); PSNR always")
    s.add_argument("--resize", type=counting(1 << 16), default=0, metavar="PX",
                   help="scale the image down first so neither side exceeds PX (the services refuse images over "
                        "their cap: 2048 px per side and 4 Mpixel for the cpu preset)")
    s.set_defaults(func=cmd_send)
    w = sub.add_parser("watch", help="stream every result the receiver produces")
    w.add_argument("--out", help="also write each result's images here")
    w.add_argument("--after", type=int, default=0, help="replay kept results after this sequence number")
    w.add_argument("--epoch", default="", help="the epoch --after was counted in (printed with every result); "
                                               "if the receiver has restarted since, all it kept is replayed")
    w.add_argument("--max", type=int, help="stop after this many results")
    w.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                   help="exit when the receiver goes away instead of reconnecting and resuming")
    w.set_defaults(func=cmd_watch)
    t = sub.add_parser("tasks", help="list the tasks the KB knows")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tasks)
    return p


def _fail(args, code: str, message: str, exit_code: int) -> int:
    """One line on stderr (``CODE: message``), or with --json one JSON object on stdout, as a result would be."""
    if getattr(args, "json", False):
        print(json.dumps({"error": {"code": code, "message": message}, "exit_code": exit_code}))
    else:
        print(f"{code}: {printable(message)}", file=sys.stderr)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.security = Security.from_args(args)
        return args.func(args)
    except ServiceError as exc:
        return _fail(args, exc.code, exc.message, 1)
    except grpc.RpcError as err:  # a call not wrapped above: no service to name
        e = explain(err, "service", "its address")
        return _fail(args, e.code, e.message, 1)
    except ClientError as exc:
        return _fail(args, "error", str(exc), 2)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
