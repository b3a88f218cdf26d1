"""The client library of the three services: what `txclient`, the page (`semcom web`) and the benchmarks share.

Fetching a sender's result (waiting out a receiver that restarts), turning a failed call into the words a person
reads (naming the service, its address and the flag that sets it), quality against the image sent, writing a
result's files, and scaling an image down to a cap. It imports gRPC and the stubs, not torch or NumPy (PSNR
loads NumPy when asked; MS-SSIM torch).
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from pathlib import Path

import grpc

from shared.errors import details_of
from shared.ids import ID_RULE, id_ok
from shared.lazy import LazyModule
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc

# on first use: importing the client (txclient, the page) loads neither NumPy and Pillow (images, class colours)
# nor torch (MS-SSIM), which only some results need
classes = LazyModule("shared.classes", globals())
imageio = LazyModule("shared.imageio", globals())
metrics = LazyModule("shared.metrics", globals())


# control characters (terminal escape sequences start with one) and the bidirectional overrides that reorder text
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """What a server sent, as it may reach a terminal: control characters shown as escapes (\\x1b), never obeyed."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], str(text))


class ClientError(Exception):
    """A local problem (unreadable file, unwritable folder): one line, exit 2."""


class ServiceError(Exception):
    """A call to a service failed: its gRPC status name and a message naming the service and what to do (exit 1).
    ``explain`` makes one from an RpcError; txclient and the page print the same text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


# what gRPC says when the client itself could not reach the address (not a service reporting another as down)
# (gRPC's own words, at the start: a service that reports another as down says so in its own words first)
_UNREACHABLE = re.compile(r"^(failed to connect to all addresses|DNS resolution failed|Connection refused|"
                          r"Socket closed|Connection reset|No route to host|Network is unreachable|"
                          r"connections to all backends failing)", re.I)
_REASON = re.compile(r"(Connection refused|DNS resolution failed[^;]*|No route to host|Network is unreachable|"
                     r"Connection reset[^;]*|Socket closed|Deadline Exceeded)", re.I)
FLAGS = {"transmitter": "--transmitter or SEMCOM_TRANSMITTER_ADDR", "receiver": "--receiver or SEMCOM_RECEIVER_ADDR"}


def explain(err: grpc.RpcError, who: str, addr: str) -> ServiceError:
    """A failed call to the `who` service at `addr` as a person reads it: an address nobody answers at, or one where
    another kind of server answers, is said in those words, with the flag that sets it."""
    code = err.code() if hasattr(err, "code") and err.code() else grpc.StatusCode.UNKNOWN
    details = " ".join(((err.details() if hasattr(err, "details") else str(err)) or "no details").split())
    flag = FLAGS.get(who, "its address")
    if code == grpc.StatusCode.UNAVAILABLE and _UNREACHABLE.match(details):
        reason = _REASON.search(details)
        return ServiceError(code.name, f"the {who} at {addr} is not reachable "
                                       f"({reason.group(1) if reason else details[:120]}): is `semcom up` running, "
                                       f"and is the address right ({flag})?")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return ServiceError(code.name, f"the server at {addr} is not a semcom {who} ({details}): check the address "
                                       f"({flag})")
    return ServiceError(code.name, with_hint(code.name, details, details_of(err)))


def output_kind(result: pb.Result) -> str:
    """What a result holds, read from its fields rather than its task's name (so a client needs no task table,
    and a task added on the services' side reaches it): "image" (image_png) or "labels" (labels_png, colour_png,
    class_names), as ``shared.tasks`` names them."""
    return "image" if result.image_png else "labels"


def write_outputs(result: pb.Result, out_dir: Path, stem: str, original: bytes | None) -> list[str]:
    """Writes the result's images under out_dir; returns the paths."""
    from PIL import Image

    if not id_ok(result.transmission_id):  # ids become file names: never one a server could aim elsewhere
        raise ClientError(f"the receiver returned transmission id {ascii(result.transmission_id[:80])}, which is not "
                          f"{ID_RULE}; not writing its files")
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{stem}_{result.transmission_id}"
    paths = []
    if output_kind(result) == "image":
        p = Path(f"{base}_{result.task}.png")
        p.write_bytes(result.image_png)
        paths.append(str(p))
    else:
        for suffix, data in (("labels", result.labels_png), ("colour", result.colour_png)):
            p = Path(f"{base}_{suffix}.png")
            p.write_bytes(data)
            paths.append(str(p))

        names = list(result.class_names)
        p = Path(f"{base}_classes.json")
        p.write_text(json.dumps({i: {"name": n, "colour": list(c)} for i, (n, c) in
                                 enumerate(zip(names, classes.class_colours(len(names))))}, indent=1))
        paths.append(str(p))
        p = Path(f"{base}_legend.png")
        classes.legend(names).save(p)
        paths.append(str(p))
        if original is not None:

            orig, colour = imageio.open_rgb(original), imageio.open_rgb(result.colour_png)
            if orig.size == colour.size:
                p = Path(f"{base}_overlay.png")
                Image.blend(orig, colour, 0.5).save(p)
                paths.append(str(p))
    return paths


def quality(original: bytes, result: pb.Result, with_ms_ssim: bool = False) -> dict[str, float]:
    """PSNR of a reconstruction against the original (NumPy: no torch to load for it), and MS-SSIM when asked
    and the image is large enough (shared.metrics, which loads torch: about a second or more)."""
    import numpy as np


    a = np.asarray(imageio.open_rgb(original), dtype=np.float64) / 255.0
    b = np.asarray(imageio.open_rgb(result.image_png), dtype=np.float64) / 255.0
    if a.shape != b.shape:
        return {}
    mse = max(float(np.mean((a - b) ** 2)), 1e-12)
    q = {"psnr_db": round(10.0 * math.log10(1.0 / mse), 3)}
    if with_ms_ssim and min(a.shape[:2]) > 160:

        sent, got = imageio.to_tensor(imageio.open_rgb(original)), imageio.to_tensor(imageio.open_rgb(result.image_png))
        q["ms_ssim"] = round(float(metrics.ms_ssim(sent, got)), 5)
    return q


RECONNECT_S = 30.0  # how long a client waits for a receiver that went away to come back


def fetch_result(conn: grpc.Channel, transmission_id: str, deadline: float,
                 reconnect_s: float = RECONNECT_S) -> pb.Result:
    """GetResult, as the sender (``accepted``), until `deadline` (a perf_counter time).

    A receiver that holds neither the transmission nor its result (it restarted since accepting it) says so at
    once: ClientError. If the receiver goes away meanwhile, wait up to `reconnect_s` for it to come back (a
    receiver restarted with --results-dir still has a finished result); if it does not, the transmission is lost
    (accepted, undecoded work lives in the receiver's memory only), and that is said then, not at the deadline."""
    rx = rpc.ReceiverStub(conn)
    said, away = set(), False
    while True:
        try:
            return rx.GetResult(pb.GetResultRequest(transmission_id=transmission_id, accepted=True),
                                timeout=max(0.1, deadline - time.perf_counter()))
        except grpc.RpcError as err:
            left = deadline - time.perf_counter()
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise ClientError(f"no result for transmission {transmission_id}: {err.details()}") from None
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED and away:  # a receiver that predates `accepted`
                raise ClientError(f"no result for transmission {transmission_id}: the receiver went away after "
                                  "accepting it and came back without it, so it is lost (a receiver started with "
                                  "--results-dir keeps finished results across restarts); send it again") from None
            if err.code() != grpc.StatusCode.UNAVAILABLE or left <= 0.5:
                raise
            away = True
            if err.details() not in said:  # each reason once, not once per retry
                said.add(err.details())
                print(f"receiver unavailable ({printable(err.details())}); waiting up to "
                      f"{min(left, reconnect_s):.0f} s for it", file=sys.stderr, flush=True)
            try:
                grpc.channel_ready_future(conn).result(timeout=min(left, reconnect_s))
            except grpc.FutureTimeoutError:
                if reconnect_s >= left:
                    raise err from None
                raise ClientError(f"no result for transmission {transmission_id}: the receiver went away before "
                                  f"publishing it ({printable(err.details())}) and is not back after "
                                  f"{reconnect_s:.0f} s; a receiver keeps accepted, undecoded transmissions in memory "
                                  "only, so it is lost: send it again once the receiver is back") from None
            time.sleep(min(0.5, max(0.0, deadline - time.perf_counter())))  # up, perhaps still loading: don't spin


def fit_within(data: bytes, side: int, path: Path) -> bytes:
    """The image scaled down (Lanczos, aspect kept) so that neither side exceeds `side`, as PNG; unchanged if it
    already fits. Quality is then measured against the scaled image, the one that was sent."""
    import io

    from PIL import Image


    try:
        img = imageio.open_rgb(data)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the user's file
        raise ClientError(f"cannot read {path} as an image to resize it: {exc}") from None
    if max(img.size) <= side:
        return data
    scale = side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    print(f"resized to {img.width}x{img.height} (--resize {side})", file=sys.stderr)
    return buf.getvalue()


def with_pilots(r) -> float:
    """The CBR of a SendReply or Result counting the pilots' channel uses too."""
    return (r.channel_uses + r.pilot_uses) / (3 * r.height * r.width) if r.height and r.width else r.cbr


def with_hint(code: str, details: str, structured: dict[str, str] | None = None) -> str:
    """A service's error as the client prints it, with what to do when the client itself can help, from the
    structured details the service sent beside its message (``shared.errors``), never from its wording."""
    structured = structured or {}
    if code == "RESOURCE_EXHAUSTED" and structured.get("max-side", "").isdigit():
        return f"{details}; `txclient send --resize {structured['max-side']} IMAGE ...` scales it down first"
    steps = structured.get("max-steps", "0")
    if code == "RESOURCE_EXHAUSTED" and steps.isdigit() and int(steps) > 0:
        return f"{details} (`txclient send --steps {steps} ...`)"
    return details
