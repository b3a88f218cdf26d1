"""`semcom web`: a page in the browser that is a client of the three services, as ``txclient`` is.

    semcom web [--port 8080] [--transmitter ADDR] [--receiver ADDR] [--examples FOLDER]

The page (``static/``, every asset served from here, nothing from a CDN) sends an uploaded or
bundled example image with a plain-language request and channel settings; this server calls the
transmitter's Send and the receiver's GetResult (``semcom.client.fetch_result``) and returns
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
import contextlib
import logging
import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from semcom.web.client import Client, ndjson
from semcom.web.examples import EXAMPLES, MAX_FOLDER_EXAMPLES, ExampleError, add_examples, example_png
from semcom.web.guard import LOOPBACK, Guard, _host_name, allowed_hosts
from semcom.web.requests import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, WebError, parse_body
from shared.endpoints import default_addr, env
from shared.security import Security, add_security_args

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("semcom.web")


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

    @app.get("/api/examples")
    def examples():
        return {"examples": list(EXAMPLES)}

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
    p.add_argument("--examples", action="append", default=[], metavar="PATH",
                   help="a folder of PNG/JPEG photographs (or one file) to offer as examples beside the bundled ones, "
                        f"named by file name, at most {MAX_FOLDER_EXAMPLES} (repeat; or SEMCOM_WEB_EXAMPLES, "
                        f"paths joined by '{os.pathsep}'), e.g. your own street frames")
    add_security_args(p, env)
    args = p.parse_args(argv)
    sources = [s for s in env("WEB_EXAMPLES", "").split(os.pathsep) if s] + args.examples
    try:
        added, left_out = add_examples(sources)
    except ExampleError as exc:
        print(f"semcom web: {exc}", file=sys.stderr)
        return 2
    if added:
        more = f"; {left_out} more left out (at most {MAX_FOLDER_EXAMPLES})" if left_out else ""
        print(f"semcom web: {len(added)} examples from {', '.join(sources)}{more}", file=sys.stderr, flush=True)
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
