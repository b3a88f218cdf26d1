"""The page's connection to the services (Send, GetResult, ListTasks, health) and what it makes of their answers:
one transmission described for the page, and the SNR sweep beside the classical chain as events."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from fractions import Fraction

import grpc

from semcom.client import ClientError, fetch_result, output_kind, quality
from semcom.web.examples import EXAMPLES
from semcom.web.live import LiveStream
from semcom.web.requests import (MAX_SWEEP_POINTS, WebError, _grpc_error, _number, _text, data_url, image_bytes,
                                 settings_of)
from shared.channel import MODELS, SNR_RANGE_DB, ChannelSpec
from shared.endpoints import client_channel
from shared.lazy import LazyModule
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security
from shared.wire import spec_from_proto

# on first use: the page's server starts, and answers --help, without torch (the system registry's chains, the
# metrics) or NumPy and Pillow (images, class colours)
classes = LazyModule("shared.classes", globals())
imageio = LazyModule("shared.imageio", globals())
metrics = LazyModule("shared.metrics", globals())
systems = LazyModule("semcom.systems", globals())

CLASSICAL = "jpeg-16qam-1/2"  # the digital chain drawn beside the sweep (fcn-... for segmentation)
log = logging.getLogger("semcom.web")


class Client:
    """The page's connection to the services: Send, GetResult, ListTasks, Subscribe, health."""

    def __init__(self, transmitter: str, receiver: str, security: Security = Security(), timeout: float = 300.0):
        self.transmitter, self.receiver, self.timeout = transmitter, receiver, timeout
        self.tx_conn = client_channel(transmitter, security)
        self.rx_conn = client_channel(receiver, security)
        self.tx = rpc.TransmitterStub(self.tx_conn)
        self.rx = rpc.ReceiverStub(self.rx_conn)
        self._classical: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self.live = LiveStream(self.rx, receiver)

    def close(self) -> None:
        """Ends the live result stream (its pages reconnect to the next server)."""
        self.live.close()

    # ------------------------------------------------------------------ services

    def settings(self) -> dict:
        try:
            reply = self.tx.ListTasks(pb.ListTasksRequest(), timeout=10)
        except grpc.RpcError as err:
            raise _grpc_error(err, "transmitter", self.transmitter) from None
        lo, hi = SNR_RANGE_DB
        return {"tasks": {t.name: list(t.instructions) for t in reply.tasks}, "threshold": reply.threshold,
                "channels": {m.name: {"help": m.help, "fading": m.fading,
                                      "params": [{"name": p.name, "default": p.default, "lo": p.lo, "hi": p.hi,
                                                  "help": p.help, "integer": p.integer, "choices": list(p.choices)}
                                                 for p in m.params]} for m in MODELS.values()},
                "snr_range_db": [lo, hi],
                "examples": list(EXAMPLES)}

    def healthy(self) -> dict[str, str]:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        out = {}
        for name, conn in (("transmitter", self.tx_conn), ("receiver", self.rx_conn)):
            try:
                status = health_pb2_grpc.HealthStub(conn).Check(health_pb2.HealthCheckRequest(), timeout=3).status
                out[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            except grpc.RpcError as err:
                out[name] = err.code().name
        return out

    def send_once(self, data: bytes, task: str, settings: pb.ChannelSettings, steps: int) -> tuple:
        started = time.perf_counter()
        try:
            reply = self.tx.Send(pb.SendRequest(image=data, task=task, channel=settings, diffusion_steps=steps),
                                 timeout=self.timeout)
        except grpc.RpcError as err:
            raise _grpc_error(err, "transmitter", self.transmitter) from None
        try:
            result = fetch_result(self.rx_conn, reply.transmission_id, started + self.timeout)
        except grpc.RpcError as err:
            raise _grpc_error(err, "receiver", self.receiver) from None
        except ClientError as exc:
            raise WebError(504, str(exc)) from None
        if result.error:
            raise WebError(500, f"INTERNAL: the receiver could not decode transmission {reply.transmission_id}: "
                                f"{result.error}")
        return reply, result, time.perf_counter() - started

    def send(self, body: dict) -> dict:
        data = image_bytes(body)
        task = _text(body, "task").strip()
        if not task:
            raise WebError(400, "say what the receiver should do, e.g. 'reconstruct the image' or 'segment it'")
        steps = _number(body, "steps", int, 0, 0, 1000)
        reply, result, wall = self.send_once(data, task, settings_of(body), steps)
        return describe(data, reply, result, wall)

    # ------------------------------------------------------------------ sweep

    def classical(self, kind: str, cbr: str):
        """The registry's digital chain for a result of this kind (an image: JPEG + LDPC + QAM; a label map: the
        same chain with the FCN after it) at `cbr`, built once."""

        name = CLASSICAL if kind == "image" else f"fcn-{CLASSICAL}"
        with self._lock:
            if (name, cbr) not in self._classical:
                entry = systems.REGISTRY[name]
                self._classical[(name, cbr)] = entry.build(systems.BuildContext(cbr=cbr),
                                                           systems.tasks_of(entry)[0])
            return name, self._classical[(name, cbr)]

    def sweep(self, body: dict) -> dict:
        """The whole sweep as one JSON document (what `sweep_events` ends with)."""
        for event in self.sweep_events(body):
            if event["event"] == "done":
                return {k: v for k, v in event.items() if k != "event"}
        raise WebError(500, "INTERNAL: the sweep ended without its result")  # sweep_events always ends with done

    def sweep_events(self, body: dict):
        """The same image at several SNRs through the services and, beside it, through the classical chain, as
        events the page draws as they come: ``meta`` (the negotiated task, metric, chain), then for each SNR a
        ``point`` of each system, then ``done`` with everything. The request is checked here, before the first
        event (WebError); a failure after that is the caller's to report.

        Reconstruction is scored by PSNR. An uploaded image has no ground-truth labels, so segmentation
        is scored by the share of pixels agreeing with each system's own segmentation of the image over
        a noiseless channel (the proposed system's through the services, the chain's FCN on the image): how
        much the channel changes the answer, not how right the answer is."""
        data = image_bytes(body)
        task = _text(body, "task").strip()
        if not task:
            raise WebError(400, "say what the receiver should do before a sweep")
        snrs = body.get("snrs") or [1, 4, 7, 10, 13]
        if not isinstance(snrs, list) or not 1 <= len(snrs) <= MAX_SWEEP_POINTS:
            raise WebError(400, f"a sweep takes 1 to {MAX_SWEEP_POINTS} SNRs")
        lo, hi = SNR_RANGE_DB
        snrs = sorted(_number({"snr": s}, "snr", float, 0.0, lo, hi) for s in snrs)
        steps = _number(body, "steps", int, 0, 0, 1000)
        settings = [settings_of(body, snr_db=snr) for snr in snrs]
        return self._sweep(data, task, steps, body, settings)

    def _sweep(self, data: bytes, task: str, steps: int, body: dict, settings: list[pb.ChannelSettings]):

        meta: dict | None = None
        points, digital, reference = [], [], None
        for s in settings:
            reply, result, _ = self.send_once(data, task, s, steps)
            if meta is None:
                name, chain = self.classical(output_kind(result), str(Fraction(reply.cbr).limit_denominator(4096)))
                img = imageio.to_tensor(imageio.open_rgb(data))
                own = None if output_kind(result) == "image" else \
                    chain.run(img, ChannelSpec("noiseless", SNR_RANGE_DB[1]), 0).cpu().numpy()
                if own is None:
                    metric, unit = "PSNR", "dB"
                else:
                    metric, unit = "agreement with its own noiseless segmentation", "%"
                meta = {"task": reply.task, "metric": metric, "unit": unit, "cbr": reply.cbr, "channel": s.model,
                        "params": dict(s.params), "snrs": [x.snr_db for x in settings],
                        "systems": {"proposed": "proposed (through the services)",
                                    "classical": f"{name} (in the page's server)"}, "classical_name": name}
                yield {"event": "meta", **meta}
            if own is None:
                value = quality_of(data, result.image_png)["psnr_db"]
            else:
                if reference is None:
                    _, ref, _ = self.send_once(data, task, settings_of(body, snr_db=s.snr_db, model="noiseless"),
                                               steps)
                    reference = _labels(ref.labels_png)
                value = round(100 * float((_labels(result.labels_png) == reference).mean()), 2)
            point = {"snr_db": s.snr_db, "value": value, "realised_snr_db": round(result.realised_snr_db, 3)}
            points.append(point)
            yield {"event": "point", "system": "proposed", **point}
            out = chain.run(img, spec_from_proto(s), int(s.seed))
            if own is None:
                value = round(float(metrics.psnr(img, out.clamp(0, 1))), 3)
            else:
                value = round(100 * float((out.cpu().numpy() == own).mean()), 2)
            digital.append({"snr_db": s.snr_db, "value": value})
            yield {"event": "point", "system": "classical", **digital[-1]}
        yield {"event": "done", **meta, "proposed": points,
               "classical": {"name": meta["classical_name"], "points": digital}}


def ndjson(events):
    """Events as newline-delimited JSON; a failure after the first event becomes an ``error`` event (the status
    line has gone), with the HTTP status it would have had."""
    try:
        for event in events:
            yield json.dumps(event) + "\n"
    except WebError as exc:
        yield json.dumps({"event": "error", "status": exc.status, "error": str(exc)}) + "\n"
    except Exception as exc:  # noqa: BLE001 - a bug of ours: logged, one line for the page
        log.exception("unexpected error in a sweep")
        yield json.dumps({"event": "error", "status": 500, "error": f"INTERNAL: {type(exc).__name__}: {exc}"}) + "\n"


def _labels(png: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def quality_of(original: bytes, reconstruction_png: bytes) -> dict:
    return quality(original, pb.Result(image_png=reconstruction_png), with_ms_ssim=True)


def describe(data: bytes, reply: pb.SendReply, result: pb.Result, wall_s: float) -> dict:
    """What the page shows of one transmission."""
    from PIL import Image


    doc = {"task": reply.task, "score": round(reply.score, 4), "transmission_id": reply.transmission_id,
           "sequence": result.sequence, "channel": result.channel.model, "snr_db": result.channel.snr_db,
           "params": dict(result.channel.params), "csi": spec_from_proto(result.channel).csi, "seed": result.channel.seed,
           "realised_snr_db": round(result.realised_snr_db, 3), "channel_uses": result.channel_uses,
           "cbr": result.cbr, "pilot_uses": result.pilot_uses, "width": result.width, "height": result.height,
           "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()}, "wall_s": round(wall_s, 4),
           "original": data_url(data)}
    if output_kind(result) == "image":
        doc.update(result=data_url(result.image_png), diffusion_steps=result.diffusion_steps,
                   **quality_of(data, result.image_png))
    else:
        original, colour = imageio.open_rgb(data), imageio.open_rgb(result.colour_png)
        overlay = Image.blend(original, colour, 0.5) if colour.size == original.size else colour
        colours = classes.class_colours(len(result.class_names))
        doc.update(result=data_url(imageio.encode_png(overlay)), colour=data_url(result.colour_png),
                   legend=[{"name": n, "colour": "#%02x%02x%02x" % colours[i]}
                           for i, n in enumerate(result.class_names)])
    return doc
