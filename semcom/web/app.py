"""`semcom web`: a page in the browser that is a client of the three services, as ``txclient`` is.

    semcom web [--port 8080] [--transmitter ADDR] [--receiver ADDR]

The page (``static/``, every asset served from here, nothing from a CDN) sends an uploaded or
bundled example image with a plain-language request and channel settings; this server calls the
transmitter's Send and the receiver's GetResult (``semcom.txclient.fetch_result``) and returns
what arrived with its numbers: the negotiated task and score, channel uses, CBR, the realised SNR,
each stage's time, and the reconstruction with PSNR / MS-SSIM or the segmentation with its
overlay and class legend. A sweep sends the same image at several SNRs through the services and,
beside it, through the classical JPEG + 5G LDPC + QAM chain of ``semcom.systems`` (in this
process). The receiver's live result stream reaches the page as server-sent events.

Errors from the services come back as one readable message with an HTTP status that says what
kind of error it was (400 for a request to fix, 503 while a service is away, ...), never a trace.

JSON API (what the page uses; scripts may too): GET /api/settings, GET /api/examples,
GET /api/examples/NAME.png, POST /api/send, POST /api/sweep, GET /api/stream, GET /healthz.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import logging
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from semcom.web.examples import EXAMPLES, example_png
from shared.channel import MODELS, SNR_RANGE_DB
from shared.endpoints import client_channel, default_addr, env
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security, add_security_args

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 16 << 20
MAX_SWEEP_POINTS = 12
CLASSICAL = "jpeg-16qam-1/2"  # the digital chain drawn beside the sweep (fcn-... for segmentation)
log = logging.getLogger("semcom.web")

# what a gRPC status means to a browser
HTTP_OF = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 409,
           grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNAUTHENTICATED: 401,
           grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
           grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504}


class WebError(Exception):
    """One message for the page, with the HTTP status it goes back with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _grpc_error(err: grpc.RpcError, who: str) -> WebError:
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    if code == grpc.StatusCode.UNAVAILABLE:
        details = f"the {who} is not reachable ({details}); is `semcom up` running?"
    return WebError(HTTP_OF.get(code, 502), f"{code.name}: {details}")


def data_url(image: bytes) -> str:
    """PNG or JPEG bytes (the only formats the services take) as a data URL."""
    mime = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def image_bytes(body: dict) -> bytes:
    """The image a request names: an upload (a data URL or base64) or a bundled example."""
    if body.get("example"):
        name = str(body["example"])
        if name not in EXAMPLES:
            raise WebError(400, f"no example called {name!r}; examples: {', '.join(EXAMPLES)}")
        return example_png(name)
    raw = body.get("image")
    if not raw:
        raise WebError(400, "no image: upload a PNG or JPEG, or pick an example")
    text = str(raw)
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise WebError(400, "the image upload is not valid base64 data") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise WebError(413, f"the image is {len(data)} bytes, over this page's {MAX_UPLOAD_BYTES}-byte cap")
    return data


def _number(body: dict, key: str, kind, default, lo=None, hi=None):
    value = body.get(key, default)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise WebError(400, f"{key} must be a number, not {value!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise WebError(400, f"{key} must be between {lo} and {hi}, not {value}")
    return value


def settings_of(body: dict, snr_db: float | None = None, model: str | None = None) -> pb.ChannelSettings:
    model = model or str(body.get("channel") or "awgn")
    if model not in MODELS:
        raise WebError(400, f"unknown channel {model!r}; channels: {', '.join(MODELS)}")
    lo, hi = SNR_RANGE_DB
    snr = snr_db if snr_db is not None else _number(body, "snr_db", float, 10.0, lo, hi)
    return pb.ChannelSettings(model=model, snr_db=snr, csi=bool(body.get("csi", True)),
                              block_len=_number(body, "block_len", int, 0, 0, 1 << 26),
                              seed=_number(body, "seed", int, 0, 0, (1 << 63) - 1))


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
        self._streams: set = set()  # open Subscribe calls, cancelled when the server stops

    def close(self) -> None:
        """Ends every open result stream (their pages reconnect to the next server)."""
        with self._lock:
            streams, self._streams = list(self._streams), set()
        for call in streams:
            call.cancel()

    # ------------------------------------------------------------------ services

    def settings(self) -> dict:
        try:
            reply = self.tx.ListTasks(pb.ListTasksRequest(), timeout=10)
        except grpc.RpcError as err:
            raise _grpc_error(err, "transmitter") from None
        lo, hi = SNR_RANGE_DB
        return {"tasks": {t.name: list(t.instructions) for t in reply.tasks}, "threshold": reply.threshold,
                "channels": {m.name: m.help for m in MODELS.values()}, "snr_range_db": [lo, hi],
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
        from semcom.txclient import ClientError, fetch_result

        started = time.perf_counter()
        try:
            reply = self.tx.Send(pb.SendRequest(image=data, task=task, channel=settings, diffusion_steps=steps),
                                 timeout=self.timeout)
        except grpc.RpcError as err:
            raise _grpc_error(err, "transmitter") from None
        try:
            result = fetch_result(self.rx_conn, reply.transmission_id, started + self.timeout)
        except grpc.RpcError as err:
            raise _grpc_error(err, "receiver") from None
        except ClientError as exc:
            raise WebError(504, str(exc)) from None
        if result.error:
            raise WebError(500, f"INTERNAL: the receiver could not decode transmission {reply.transmission_id}: "
                                f"{result.error}")
        return reply, result, time.perf_counter() - started

    def send(self, body: dict) -> dict:
        data = image_bytes(body)
        task = str(body.get("task") or "").strip()
        if not task:
            raise WebError(400, "say what the receiver should do, e.g. 'reconstruct the image' or 'segment it'")
        steps = _number(body, "steps", int, 0, 0, 1000)
        reply, result, wall = self.send_once(data, task, settings_of(body), steps)
        return describe(data, reply, result, wall)

    # ------------------------------------------------------------------ sweep

    def classical(self, task: str, cbr: str):
        """The digital chain of the registry for `task` at `cbr`, built once."""
        from semcom.systems import BuildContext, get

        name = CLASSICAL if task == "reconstruction" else f"fcn-{CLASSICAL}"
        with self._lock:
            if (name, cbr) not in self._classical:
                self._classical[(name, cbr)] = get(name, task).build(BuildContext(cbr=cbr), task)
            return name, self._classical[(name, cbr)]

    def sweep(self, body: dict) -> dict:
        """The same image at several SNRs through the services and through the classical chain.

        Reconstruction is scored by PSNR. An uploaded image has no ground-truth labels, so segmentation
        is scored by the share of pixels agreeing with each system's own segmentation of the image over
        a noiseless channel (the proposed system's through the services, the chain's FCN on the image)."""
        from shared.channel import ChannelSpec
        from shared.imageio import open_rgb, to_tensor
        from shared.metrics import psnr

        data = image_bytes(body)
        task = str(body.get("task") or "").strip()
        if not task:
            raise WebError(400, "say what the receiver should do before a sweep")
        snrs = body.get("snrs") or [1, 4, 7, 10, 13]
        if not isinstance(snrs, list) or not 1 <= len(snrs) <= MAX_SWEEP_POINTS:
            raise WebError(400, f"a sweep takes 1 to {MAX_SWEEP_POINTS} SNRs")
        lo, hi = SNR_RANGE_DB
        snrs = sorted(_number({"snr": s}, "snr", float, 0.0, lo, hi) for s in snrs)
        steps = _number(body, "steps", int, 0, 0, 1000)
        base = settings_of(body, snr_db=snrs[0])
        points, reference, reply = [], None, None
        for snr in snrs:
            reply, result, _ = self.send_once(data, task, settings_of(body, snr_db=snr), steps)
            if reply.task == "reconstruction":
                value = quality_of(data, result.image_png)["psnr_db"]
            else:
                if reference is None:
                    _, ref, _ = self.send_once(data, task, settings_of(body, snr_db=snr, model="noiseless"), steps)
                    reference = _labels(ref.labels_png)
                value = round(float((_labels(result.labels_png) == reference).mean()), 4)
            points.append({"snr_db": snr, "value": value, "realised_snr_db": round(result.realised_snr_db, 3)})
        negotiated = reply.task
        name, chain = self.classical(negotiated, str(Fraction(reply.cbr).limit_denominator(4096)))
        img = to_tensor(open_rgb(data))
        own = chain.run(img, ChannelSpec("noiseless", hi), 0).cpu().numpy() if negotiated != "reconstruction" \
            else None
        digital = []
        for snr in snrs:
            out = chain.run(img, ChannelSpec(base.model, snr, base.block_len, base.csi), int(base.seed))
            if own is None:
                value = round(float(psnr(img, out.clamp(0, 1))), 3)
            else:
                value = round(float((out.cpu().numpy() == own).mean()), 4)
            digital.append({"snr_db": snr, "value": value})
        metric = "PSNR (dB)" if own is None else "share of pixels agreeing with the system's own noiseless segmentation"
        return {"task": negotiated, "metric": metric, "cbr": reply.cbr, "channel": base.model,
                "proposed": points, "classical": {"name": name, "points": digital}}

    # ------------------------------------------------------------------ live stream

    def stream(self):
        """Server-sent events: one per result the receiver publishes, as it publishes it."""
        call = self.rx.Subscribe(pb.SubscribeRequest())
        with self._lock:
            self._streams.add(call)
        try:
            yield "retry: 2000\n\n"
            for r in call:
                event = {"transmission_id": r.transmission_id, "sequence": r.sequence, "task": r.task,
                         "snr_db": r.channel.snr_db, "channel": r.channel.model, "error": r.error,
                         "realised_snr_db": round(r.realised_snr_db, 2), "width": r.width, "height": r.height,
                         "decode_s": round(r.timings_s.get("decode", 0.0), 4)}
                yield f"data: {json.dumps(event)}\n\n"
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                yield f"event: failure\ndata: {json.dumps({'error': str(_grpc_error(err, 'receiver'))})}\n\n"
        finally:
            call.cancel()
            with self._lock:
                self._streams.discard(call)


def _labels(png: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def quality_of(original: bytes, reconstruction_png: bytes) -> dict:
    from semcom.txclient import quality

    return quality(original, pb.Result(image_png=reconstruction_png), with_ms_ssim=True)


def describe(data: bytes, reply: pb.SendReply, result: pb.Result, wall_s: float) -> dict:
    """What the page shows of one transmission."""
    from PIL import Image

    from shared.classes import class_colours
    from shared.imageio import encode_png, open_rgb

    doc = {"task": reply.task, "score": round(reply.score, 4), "transmission_id": reply.transmission_id,
           "sequence": result.sequence, "channel": result.channel.model, "snr_db": result.channel.snr_db,
           "csi": result.channel.csi, "seed": result.channel.seed,
           "realised_snr_db": round(result.realised_snr_db, 3), "channel_uses": result.channel_uses,
           "cbr": result.cbr, "width": result.width, "height": result.height,
           "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()}, "wall_s": round(wall_s, 4),
           "original": data_url(data)}
    if reply.task == "reconstruction":
        doc.update(result=data_url(result.image_png), diffusion_steps=result.diffusion_steps,
                   **quality_of(data, result.image_png))
    else:
        original, colour = open_rgb(data), open_rgb(result.colour_png)
        overlay = Image.blend(original, colour, 0.5) if colour.size == original.size else colour
        colours = class_colours(len(result.class_names))
        doc.update(result=data_url(encode_png(overlay)), colour=data_url(result.colour_png),
                   legend=[{"name": n, "colour": "#%02x%02x%02x" % colours[i]}
                           for i, n in enumerate(result.class_names)])
    return doc


def create_app(client: Client) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        client.close()  # open event streams would otherwise hold the stop until their next result

    app = FastAPI(title="semcom web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.exception_handler(WebError)
    async def _web_error(_request, exc: WebError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):  # a bug of ours: logged here, one line for the page
        log.exception("unexpected error")
        return JSONResponse({"error": f"INTERNAL: {type(exc).__name__}: {exc}"}, status_code=500)

    async def _body(request: Request) -> dict:
        try:
            body = await request.json()
        except ValueError:
            raise WebError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise WebError(400, "the request body must be a JSON object")
        return body

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    def healthz():
        states = client.healthy()
        ok = all(s == "SERVING" for s in states.values())
        return JSONResponse({"status": "SERVING" if ok else "NOT_SERVING", "services": states},
                            status_code=200 if ok else 503)

    @app.get("/api/settings")
    def settings():
        return client.settings()

    @app.get("/api/examples/{name}.png")
    def example(name: str):
        if name not in EXAMPLES:
            raise WebError(404, f"no example called {name!r}")
        return Response(example_png(name), media_type="image/png")

    @app.post("/api/send")
    async def send(request: Request):
        body = await _body(request)
        return await run_in_threadpool(client.send, body)

    @app.post("/api/sweep")
    async def sweep(request: Request):
        body = await _body(request)
        return await run_in_threadpool(client.sweep, body)

    @app.get("/api/stream")
    def stream():
        return StreamingResponse(client.stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom web", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=env("WEB_HOST", "127.0.0.1"), help="address to serve on (SEMCOM_WEB_HOST)")
    p.add_argument("--port", type=int, default=env("WEB_PORT", 8080), help="port (SEMCOM_WEB_PORT, default 8080)")
    p.add_argument("--transmitter", default=default_addr("transmitter"), help="SEMCOM_TRANSMITTER_ADDR")
    p.add_argument("--receiver", default=default_addr("receiver"), help="SEMCOM_RECEIVER_ADDR")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds one transmission may take")
    add_security_args(p, env)
    args = p.parse_args(argv)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s web %(levelname)s %(message)s")
    client = Client(args.transmitter, args.receiver, Security.from_args(args), args.timeout)
    print(f"semcom web: http://{args.host}:{args.port}/ (transmitter {args.transmitter}, receiver {args.receiver})",
          file=sys.stderr, flush=True)
    uvicorn.run(create_app(client), host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
