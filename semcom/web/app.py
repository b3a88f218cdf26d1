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
GET /api/examples/NAME.png, POST /api/send, POST /api/sweep (one JSON document), POST /api/sweep/stream
(the same as newline-delimited JSON events, point by point), GET /api/stream, GET /healthz.
"""

from __future__ import annotations

import argparse
import base64
import asyncio
import contextlib
import hashlib
import io
import itertools
import json
import logging
import math
import secrets
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import grpc
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from semcom.txclient import ClientError, explain, fetch_result
from semcom.web.examples import EXAMPLES, example_png
from shared.channel import CSI_MODES, MODELS, SNR_RANGE_DB
from shared.endpoints import client_channel, default_addr, env
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.security import Security, add_security_args
from shared.wire import spec_from_proto

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 16 << 20
MAX_BODY_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + (64 << 10)  # the upload as base64, and the other fields
MAX_LISTENERS = 64  # pages listening to the live stream at once (they share one Subscribe)
KEEPALIVE_S = 5.0  # a comment on the live stream this often: a page that left is noticed by the next write
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_SWEEP_POINTS = 12
CLASSICAL = "jpeg-16qam-1/2"  # the digital chain drawn beside the sweep (fcn-... for segmentation)
log = logging.getLogger("semcom.web")

# what a gRPC status means to a browser
HTTP_OF = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 409,
           grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNAUTHENTICATED: 401,
           grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
           grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504}


class WebError(Exception):
    """One message for the page, with the HTTP status it goes back with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _grpc_error(err: grpc.RpcError, who: str, addr: str) -> WebError:
    """The same words txclient prints (``semcom.txclient.explain``), with the HTTP status of the gRPC one."""
    code = err.code() if hasattr(err, "code") and err.code() else grpc.StatusCode.UNKNOWN
    return WebError(HTTP_OF.get(code, 502), str(explain(err, who, addr)))


def data_url(image: bytes) -> str:
    """PNG or JPEG bytes (the only formats the services take) as a data URL."""
    mime = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def _shown(value) -> str:
    """A client's value, short, as JSON shows it (so that "false" and false read differently)."""
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _text(body: dict, key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise WebError(400, f"{key} must be a string, not {_shown(value)}")
    return value


def _csi(body: dict) -> str:
    """What the receiver knows of h: "perfect", "estimated" or "none" (true and false are perfect and none)."""
    value = body.get("csi", "perfect")
    if isinstance(value, bool):
        return "perfect" if value else "none"
    if value not in CSI_MODES:
        raise WebError(400, f"csi must be one of {', '.join(CSI_MODES)} (or true/false), not {_shown(value)}")
    return value


def image_bytes(body: dict) -> bytes:
    """The image a request names: an upload (a data URL or base64) or a bundled example."""
    if body.get("example"):
        name = _text(body, "example")
        if name not in EXAMPLES:
            raise WebError(400, f"no example called {name!r}; examples: {', '.join(EXAMPLES)}")
        return example_png(name)
    text = _text(body, "image")
    if not text:
        raise WebError(400, "no image: upload a PNG or JPEG, or pick an example")
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > MAX_UPLOAD_BYTES * 4 // 3 + 4:  # before decoding it
        raise WebError(413, f"the image is over this page's {MAX_UPLOAD_BYTES}-byte cap")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise WebError(400, "the image upload is not valid base64 data") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise WebError(413, f"the image is {len(data)} bytes, over this page's {MAX_UPLOAD_BYTES}-byte cap")
    return data


def _number(body: dict, key: str, kind, default, lo=None, hi=None):
    """A JSON number (not a string, not true/false); `kind` int also takes 64.0, never 1.9."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WebError(400, f"{key} must be a number, not {_shown(value)}")
    if not math.isfinite(value):
        raise WebError(400, f"{key} must be a finite number, not {value}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise WebError(400, f"{key} must be a whole number, not {value}")
        value = int(value)
    else:
        value = float(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise WebError(400, f"{key} must be between {lo} and {hi}, not {value}")
    return value


def settings_of(body: dict, snr_db: float | None = None, model: str | None = None) -> pb.ChannelSettings:
    """The channel a request asks for; its model's own parameters (``params``: name -> number) come from the
    model table (``shared.channel.MODELS``), as txclient's flags do."""
    model = model or _text(body, "channel", "awgn") or "awgn"
    if model not in MODELS:
        raise WebError(400, f"unknown channel {model!r}; channels: {', '.join(MODELS)}")
    lo, hi = SNR_RANGE_DB
    snr = snr_db if snr_db is not None else _number(body, "snr_db", float, 10.0, lo, hi)
    given = body.get("params") or {}
    if not isinstance(given, dict):
        raise WebError(400, f"params must be an object of channel parameters by name, not {_shown(given)}")
    params = {}
    for name in given:
        try:
            prm = MODELS[model].param(str(name))
        except ValueError as exc:
            raise WebError(400, str(exc)) from None
        params[prm.name] = _number(given, name, float, prm.default, prm.lo, prm.hi)
    csi = _csi(body)
    return pb.ChannelSettings(model=model, snr_db=snr, csi=csi != "none", csi_mode=csi,
                              block_len=_number(body, "block_len", int, 0, 0, 1 << 26),
                              seed=_number(body, "seed", int, 0, 0, (1 << 63) - 1), params=params)


def parse_body(raw: bytes) -> dict:
    """A request body as strict JSON: one object, finite numbers only (no NaN, Infinity or 1e400), no nesting
    deeper than the parser's stack; WebError(400) otherwise, never a traceback."""
    def no_constant(name: str):
        raise ValueError(f"{name} is not a JSON number")

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text[:20]} is too large for a number")
        return value

    try:
        body = json.loads(raw, parse_constant=no_constant, parse_float=finite)
    except RecursionError:
        raise WebError(400, "the request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebError(400, f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise WebError(400, "the request body must be a JSON object")
    return body


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

    def classical(self, task: str, cbr: str):
        """The digital chain of the registry for `task` at `cbr`, built once."""
        from semcom.systems import BuildContext, get

        name = CLASSICAL if task == "reconstruction" else f"fcn-{CLASSICAL}"
        with self._lock:
            if (name, cbr) not in self._classical:
                self._classical[(name, cbr)] = get(name, task).build(BuildContext(cbr=cbr), task)
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
        from shared.channel import ChannelSpec
        from shared.imageio import open_rgb, to_tensor
        from shared.metrics import psnr

        meta: dict | None = None
        points, digital, reference = [], [], None
        for s in settings:
            reply, result, _ = self.send_once(data, task, s, steps)
            if meta is None:
                name, chain = self.classical(reply.task, str(Fraction(reply.cbr).limit_denominator(4096)))
                img = to_tensor(open_rgb(data))
                own = None if reply.task == "reconstruction" else \
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
                value = round(float(psnr(img, out.clamp(0, 1))), 3)
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


def _event(r: pb.Result) -> str:
    doc = {"transmission_id": r.transmission_id, "sequence": r.sequence, "task": r.task,
           "snr_db": r.channel.snr_db, "channel": r.channel.model, "params": dict(r.channel.params), "error": r.error,
           "realised_snr_db": round(r.realised_snr_db, 2), "width": r.width, "height": r.height,
           "decode_s": round(r.timings_s.get("decode", 0.0), 4)}
    return f"data: {json.dumps(doc)}\n\n"


class _Listener:
    """One page on the live stream: its own queue, filled from the reader thread through its event loop."""

    def __init__(self, key: int) -> None:
        self.key, self.loop, self.queue = key, asyncio.get_running_loop(), asyncio.Queue(maxsize=256)

    def offer(self, item: tuple[str, str]) -> None:  # on the event loop
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a page that does not read: it is ended, the others go on
            self.queue.get_nowait()
            self.queue.put_nowait(("end", ""))


class LiveStream:
    """The receiver's result stream, shared: one Subscribe upstream however many pages listen (at most
    MAX_LISTENERS), opened by the first page and cancelled when the last one leaves, so pages that come and go
    never hold the receiver's Subscribe slots. A page that went away is noticed at the next write (a keepalive
    comment every KEEPALIVE_S seconds) and leaves."""

    def __init__(self, stub: rpc.ReceiverStub, addr: str = "its address") -> None:
        self.stub, self.addr = stub, addr
        self._lock = threading.Lock()
        self._listeners: dict[int, _Listener] = {}
        self._keys = itertools.count()
        self._call = None

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def join(self) -> _Listener:
        """A new listener (on the running event loop); WebError(429) when MAX_LISTENERS pages listen."""
        with self._lock:
            if len(self._listeners) >= MAX_LISTENERS:
                raise WebError(429, f"RESOURCE_EXHAUSTED: {MAX_LISTENERS} pages are listening to the live stream; "
                                    "close one or try again later")
            listener = _Listener(next(self._keys))
            self._listeners[listener.key] = listener
            if self._call is None:
                self._call = self.stub.Subscribe(pb.SubscribeRequest())
                threading.Thread(target=self._read, args=(self._call,), name="web-live", daemon=True).start()
        return listener

    def leave(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners.pop(listener.key, None)
            call = self._call if not self._listeners else None
            if call is not None:
                self._call = None
        if call is not None:
            call.cancel()

    def close(self) -> None:
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call.cancel()
        self._send(("end", ""))

    def _send(self, item: tuple[str, str]) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                listener.loop.call_soon_threadsafe(listener.offer, item)

    def _read(self, call) -> None:
        """The reader thread of one upstream Subscribe: every result to every listener."""
        try:
            for r in call:
                self._send(("data", _event(r)))
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                with self._lock:
                    current = self._call is call
                    if current:
                        self._call = None
                if current:  # the receiver ended it: the pages hear why, and reconnect
                    message = json.dumps({"error": str(_grpc_error(err, "receiver", self.addr))})
                    self._send(("failure", f"event: failure\ndata: {message}\n\n"))
                    self._send(("end", ""))
                return
        with self._lock:
            current = self._call is call
            if current:
                self._call = None
        if current:
            self._send(("end", ""))

    async def events(self, listener: _Listener):
        """Server-sent events for one page, until it leaves or the upstream stream ends."""
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    kind, text = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if kind == "end":
                    return
                yield text
        finally:
            self.leave(listener)


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
           "params": dict(result.channel.params), "csi": spec_from_proto(result.channel).csi, "seed": result.channel.seed,
           "realised_snr_db": round(result.realised_snr_db, 3), "channel_uses": result.channel_uses,
           "cbr": result.cbr, "pilot_uses": result.pilot_uses, "width": result.width, "height": result.height,
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


def _host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8080`` -> ``::1``, ``Example.org:80`` -> ``example.org``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class Guard:
    """What the page checks before any route runs (plain ASGI, so nothing is read first):

    * the Host header names this page (a loopback name, the address it serves on, or an ``--allowed-host``),
      so that a foreign site cannot reach it through DNS rebinding (403);
    * an Origin header, when a browser sends one, is this page's own (403: no cross-site request forgery);
    * a POST says ``Content-Type: application/json`` (415: a form or text/plain post from another site is
      refused before its body is read);
    * with a token (the services' client token, which this page holds), every route but /healthz and
      /static asks for it: ``Authorization: Bearer TOKEN``, or the cookie that ``/?token=TOKEN`` sets (401).
    """

    COOKIE = "semcom_page"

    def __init__(self, app, hosts: frozenset[str] | None, token: str | None) -> None:
        self.app, self.hosts, self.token = app, hosts, token
        # the cookie holds a digest of the token (a cookie-safe value), not the services' token itself
        self.cookie = hashlib.sha256(b"semcom web page\0" + token.encode()).hexdigest() if token else ""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.hosts is not None and _host_name(host) not in self.hosts:
            return await self._refuse(send, 403, f"this page does not answer to the host name {_host_name(host)!r}; "
                                                 "start `semcom web` with --allowed-host NAME to reach it as NAME")
        origin = headers.get("origin")
        if origin is not None and origin.partition("://")[2].lower() != host.lower():
            return await self._refuse(send, 403, f"requests from another site ({origin[:80]}) are refused")
        if scope["method"] == "POST" and \
                headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
            return await self._refuse(send, 415, "POST a JSON body with Content-Type: application/json")
        if self.token and scope["path"] != "/healthz" and not scope["path"].startswith("/static/"):
            from urllib.parse import parse_qs, urlencode

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if "token" in query:  # the link the page printed: the token moves into a cookie, out of the address bar
                if not secrets.compare_digest(query["token"][-1].encode(), self.token.encode()):
                    return await self._refuse(send, 401, "that link's token is not this page's token")
                rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
                cookie = f"{self.COOKIE}={self.cookie}; HttpOnly; SameSite=Strict; Path=/"
                return await self._reply(send, 303, b"", [(b"location", (scope["path"] + ("?" + rest if rest else ""))
                                                           .encode("latin-1")), (b"set-cookie", cookie.encode())])
            bearer = headers.get("authorization", "")
            bearer = bearer[7:].strip() if bearer[:7].lower() == "bearer " else ""
            cookie = ""
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == self.COOKIE:
                    cookie = value
            if not (secrets.compare_digest(bearer.encode("latin-1"), self.token.encode())
                    or secrets.compare_digest(cookie.encode("latin-1"), self.cookie.encode())):
                return await self._refuse(send, 401, "this page needs the services' token: open the link "
                                                     "`semcom web` printed (/?token=...), or send "
                                                     "Authorization: Bearer TOKEN")
        return await self.app(scope, receive, send)

    @staticmethod
    async def _reply(send, status: int, body: bytes, headers: list) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, send, status: int, message: str) -> None:
        await self._reply(send, status, json.dumps({"error": message}).encode(),
                          [(b"content-type", b"application/json")])


def allowed_hosts(bind: str, extra: list[str]) -> frozenset[str] | None:
    """The Host names the page answers to; None (any) only when told ``--allowed-host '*'``."""
    names = [n.strip().lower() for item in extra for n in item.split(",") if n.strip()]
    if "*" in names:
        return None
    bound = {_host_name(bind)} if bind not in ("0.0.0.0", "::", "") else set()
    return frozenset(LOOPBACK | bound | set(names))


def create_app(client: Client, hosts: frozenset[str] | None = LOOPBACK,
               token: str | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        client.close()  # open event streams would otherwise hold the stop until their next result

    app = FastAPI(title="semcom web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.exception_handler(WebError)
    async def _web_error(_request, exc: WebError):
        # a body refused unread: close the connection rather than take in the rest of it
        headers = {"Connection": "close"} if exc.status == 413 else None
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):  # a bug of ours: logged here, one line for the page
        log.exception("unexpected error")
        return JSONResponse({"error": f"INTERNAL: {type(exc).__name__}: {exc}"}, status_code=500)

    async def _body(request: Request) -> dict:
        """The JSON body, refused (413) by its Content-Length or, without one, as soon as it passes the cap."""
        too_big = WebError(413, f"the request body is over this page's {MAX_BODY_BYTES}-byte cap "
                                f"(images up to {MAX_UPLOAD_BYTES} bytes)")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_big
            chunks.append(chunk)
        return parse_body(b"".join(chunks))

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

    @app.post("/api/sweep/stream")
    async def sweep_stream(request: Request):
        body = await _body(request)
        events = await run_in_threadpool(client.sweep_events, body)  # a bad request is refused here, with its status
        return StreamingResponse(ndjson(events), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/api/stream")
    async def stream():
        listener = client.live.join()
        return StreamingResponse(client.live.events(listener), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, hosts=hosts, token=token)
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, ending the pages' event streams as soon as it is told to stop: uvicorn waits for open
    connections before the app's shutdown runs, so open streams would otherwise hold it for the whole grace
    period and end with "Cancel N running task(s)" logged as an error."""

    def __init__(self, config: uvicorn.Config, on_exit) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        self.on_exit()
        super().handle_exit(sig, frame)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom web", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=env("WEB_HOST", "127.0.0.1"), help="address to serve on (SEMCOM_WEB_HOST)")
    p.add_argument("--port", type=int, default=env("WEB_PORT", 8080), help="port (SEMCOM_WEB_PORT, default 8080)")
    p.add_argument("--transmitter", default=default_addr("transmitter"), help="SEMCOM_TRANSMITTER_ADDR")
    p.add_argument("--receiver", default=default_addr("receiver"), help="SEMCOM_RECEIVER_ADDR")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds one transmission may take")
    p.add_argument("--allowed-host", action="append", default=[env("WEB_ALLOWED_HOSTS", "")], metavar="NAME",
                   help="a host name the page is reached by besides loopback and --host (repeat, or a comma-separated "
                        "SEMCOM_WEB_ALLOWED_HOSTS); '*' answers to any name, which lets DNS rebinding in")
    add_security_args(p, env)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s web %(levelname)s %(message)s")
    security = Security.from_args(args)
    client = Client(args.transmitter, args.receiver, security, args.timeout)
    hosts = allowed_hosts(args.host, args.allowed_host)
    hint = " (open it with ?token=<the services' token>; it sets a cookie)" if security.token else ""
    print(f"semcom web: http://{args.host}:{args.port}/{hint} (transmitter {args.transmitter}, "
          f"receiver {args.receiver})", file=sys.stderr, flush=True)
    if not security.token and _host_name(args.host) not in LOOPBACK:
        print(f"semcom web: warning: serving on {args.host} without a token: anyone who reaches this port sends "
              "through the services and sees every result; give the services a token (--token-file)",
              file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(client, hosts, security.token), host=args.host, port=args.port,
                            log_level="warning", timeout_graceful_shutdown=5)
    _Server(config, on_exit=client.close).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
