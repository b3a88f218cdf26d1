"""Optional transport security and authentication for every service and client.

* TLS: ``--tls-cert/--tls-key`` (PEM) on a server; a client verifies the server with
  ``--tls-ca``. Mutual TLS: a server started with ``--mtls`` requires a client
  certificate signed by ``--tls-ca``; clients present ``--tls-cert/--tls-key``.
  Services calling other services use their own certificate as client identity.
* Shared token: ``--token`` (or ``SEMCOM_TOKEN`` / ``SEMCOM_TOKEN_FILE``); every RPC
  except the health service must carry ``authorization: Bearer <token>``, else
  UNAUTHENTICATED.

Every flag has a ``SEMCOM_*`` environment variable. With none set, everything is
plaintext on loopback, as for local development.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import grpc

HEALTH_PREFIX = "/grpc.health.v1.Health/"
# What only the services call on each other; with a peer token, a client's token cannot call them.
PEER_METHODS = frozenset({"/semcom.v1.Channel/Transmit", "/semcom.v1.Receiver/Deliver"})


def _refuse(message: str) -> NoReturn:
    print(f"semcom: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _token_text(data: bytes) -> str:
    """A token file's text: without a byte-order mark (an editor's, not the token's) or surrounding whitespace."""
    return data.decode("utf-8", errors="replace").lstrip("\ufeff").strip()


def _check_token(token: str, where: str) -> None:
    """A token travels as an HTTP/2 header value: printable ASCII without spaces, or the program stops."""
    if not all("!" <= ch <= "~" for ch in token):
        _refuse(f"{where} holds characters a token cannot have: a token is printable ASCII without spaces "
                "(for example the output of `openssl rand -hex 32`)")


@dataclass(frozen=True)
class Security:
    cert: bytes | None = None
    key: bytes | None = None
    ca: bytes | None = None
    mtls: bool = False
    token: str | None = None
    peer_token: str | None = None  # the services' own credential (Transmit, Deliver, and their outgoing calls)

    @property
    def tls(self) -> bool:
        return self.ca is not None or self.cert is not None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Security":
        """The settings the flags ask for; a file that cannot be read, an empty token file or flags that do not
        go together stop the program with one line on stderr and exit status 2."""
        def read(path: str | None) -> bytes | None:
            if not path:
                return None
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                _refuse(f"cannot read {path}: {exc.strerror or exc}")

        token = args.token
        if token and os.environ.get("SEMCOM_TOKEN") != token:
            print("semcom: warning: --token puts the token on the command line, where every user of this machine "
                  "reads it in `ps`; use --token-file FILE (or SEMCOM_TOKEN_FILE, SEMCOM_TOKEN) instead",
                  file=sys.stderr, flush=True)
        if token:
            _check_token(token, "--token (SEMCOM_TOKEN)")
        if not token and args.token_file:
            token = _token_text(read(args.token_file) or b"")
            if not token:  # never turn authentication off because a file came out empty
                _refuse(f"token file {args.token_file} is empty: write the token into it, or leave --token-file "
                        "(SEMCOM_TOKEN_FILE) unset to run without a token")
            _check_token(token, f"token file {args.token_file}")
        peer = None
        if getattr(args, "peer_token_file", ""):
            peer = _token_text(read(args.peer_token_file) or b"")
            if not peer:
                _refuse(f"peer token file {args.peer_token_file} is empty: write the services' token into it, or "
                        "leave --peer-token-file (SEMCOM_PEER_TOKEN_FILE) unset")
            _check_token(peer, f"peer token file {args.peer_token_file}")
            if peer == token:
                _refuse("the peer token must differ from the clients' token, or it separates nothing")
        sec = cls(read(args.tls_cert), read(args.tls_key), read(args.tls_ca), bool(args.mtls), token or None, peer)
        if (sec.cert is None) != (sec.key is None):
            _refuse("--tls-cert and --tls-key go together")
        if sec.mtls and (sec.ca is None or sec.cert is None):
            _refuse("--mtls needs --tls-ca (to verify clients) and --tls-cert/--tls-key")
        return sec

    # ------------------------------------------------------------------ server side

    def add_port(self, server: grpc.Server, address: str) -> int:
        if self.cert is None:
            return server.add_insecure_port(address)
        creds = grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca if self.mtls else None,
                                            require_client_auth=self.mtls)
        return server.add_secure_port(address, creds)

    def interceptors(self) -> list[grpc.ServerInterceptor]:
        return [TokenAuth(self.token, self.peer_token)] if (self.token or self.peer_token) else []

    def for_peers(self) -> "Security":
        """The settings a service calls the next service with: its peer token when it has one."""
        if self.peer_token is None:
            return self
        return Security(self.cert, self.key, self.ca, self.mtls, self.peer_token, self.peer_token)

    # ------------------------------------------------------------------ client side

    def channel(self, address: str, options: list[tuple[str, int]] | None = None) -> grpc.Channel:
        options = options or []
        if self.tls:
            creds = grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                                 certificate_chain=self.cert)
            ch = grpc.secure_channel(address, creds, options=options)
        else:
            ch = grpc.insecure_channel(address, options=options)
        if self.token:
            ch = grpc.intercept_channel(ch, AddToken(self.token))
        return ch


def add_security_args(p: argparse.ArgumentParser, env) -> None:
    g = p.add_argument_group("security (all optional)")
    g.add_argument("--tls-cert", default=env("TLS_CERT", ""), help="PEM certificate (SEMCOM_TLS_CERT)")
    g.add_argument("--tls-key", default=env("TLS_KEY", ""), help="PEM private key (SEMCOM_TLS_KEY)")
    g.add_argument("--tls-ca", default=env("TLS_CA", ""), help="PEM CA bundle that signs peers (SEMCOM_TLS_CA)")
    g.add_argument("--mtls", action="store_true", default=env("MTLS", False),
                   help="servers require client certificates signed by --tls-ca (SEMCOM_MTLS)")
    g.add_argument("--token", default=env("TOKEN", ""),
                   help="shared token for every RPC but health (SEMCOM_TOKEN); as a flag it shows in `ps`: prefer "
                        "--token-file or the variable")
    g.add_argument("--token-file", default=env("TOKEN_FILE", ""), help="read the token from a file (SEMCOM_TOKEN_FILE)")
    g.add_argument("--peer-token-file", default=env("PEER_TOKEN_FILE", ""),
                   help="services only: a second token, for the calls the services make on each other (Transmit, "
                        "Deliver, Negotiate); clients' tokens cannot call Transmit or Deliver (SEMCOM_PEER_TOKEN_FILE)")


class TokenAuth(grpc.ServerInterceptor):
    """UNAUTHENTICATED for any RPC but health without `authorization: Bearer <token>`; with a peer token,
    Transmit and Deliver (``PEER_METHODS``) take only the peer token, every other method either token."""

    def __init__(self, token: str | None, peer_token: str | None = None) -> None:
        self.client = f"Bearer {token}".encode() if token else None
        self.peer = f"Bearer {peer_token}".encode() if peer_token else None

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token: send 'authorization: Bearer "
                                                           "<token>' (txclient --token-file FILE, or SEMCOM_TOKEN_FILE / "
                                                           "SEMCOM_TOKEN); with a peer "
                                                           "token set, Transmit and Deliver take only that one")

        self._deny = {
            (False, False): grpc.unary_unary_rpc_method_handler(deny),
            (False, True): grpc.unary_stream_rpc_method_handler(deny),
            (True, False): grpc.stream_unary_rpc_method_handler(deny),
            (True, True): grpc.stream_stream_rpc_method_handler(deny),
        }

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(HEALTH_PREFIX):
            return continuation(handler_call_details)
        if self.peer is not None and handler_call_details.method in PEER_METHODS:
            accepted = [self.peer]
        elif self.client is None:  # a peer token alone protects only the internal methods
            return continuation(handler_call_details)
        else:
            accepted = [self.client] + ([self.peer] if self.peer is not None else [])
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization" and any(hmac.compare_digest(str(value).encode(), t) for t in accepted):
                return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._deny[(handler.request_streaming, handler.response_streaming)]


class _ClientCallDetails(grpc.ClientCallDetails):
    def __init__(self, details, metadata) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class AddToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
               grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, details):
        return _ClientCallDetails(details, list(details.metadata or []) + [self.header])

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)
