"""What the page checks before any route runs: its own host names and origin, JSON posts, and its token."""

from __future__ import annotations

import hashlib
import json
import secrets

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


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
