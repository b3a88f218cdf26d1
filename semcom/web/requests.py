"""What the page's server accepts: request bodies as strict JSON, their fields checked (never coerced), images as
data URLs or base64, channel settings from the channel model table; a refusal is a WebError with the HTTP status
of its kind (the gRPC status's, for a service's refusal, in the words txclient prints)."""

from __future__ import annotations

import base64
import json
import math

import grpc

from semcom.client import explain
from semcom.web.examples import EXAMPLES, example_png
from shared.channel import CSI_MODES, MODELS, SNR_RANGE_DB
from shared.rpc import semcom_pb2 as pb

MAX_UPLOAD_BYTES = 16 << 20
MAX_BODY_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + (64 << 10)  # the upload as base64, and the other fields
MAX_SWEEP_POINTS = 12

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
    """The same words txclient prints (``semcom.client.explain``), with the HTTP status of the gRPC one."""
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
