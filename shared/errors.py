"""The one mapping of the services' errors to gRPC status codes, with structured details beside the message.

A servicer that refuses a request raises (or catches) one of the project's exceptions and calls ``abort``: the
status code follows from the exception's class, the message is the exception's text, and what a client may act
on without parsing that text travels as trailing metadata ``semcom-<name>: <value>`` (``details``; for example
``semcom-max-side: 2048`` for an image over the size cap, ``semcom-max-steps: 170`` for diffusion steps over the
work bound). ``semcom.client.explain`` reads them back for txclient and the page alike.
"""

from __future__ import annotations

import grpc

DETAIL_PREFIX = "semcom-"


class Refused(ValueError):
    """A request the service cannot serve as asked; `details` are what a client may act on (name -> value)."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.details = {k.replace("_", "-"): str(v) for k, v in details.items()}


class TooLarge(Refused):
    """Within the rules, but over a cap that keeps one client from exhausting what others need."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


def status_of(exc: BaseException) -> grpc.StatusCode:
    """The status a refusal answers with: its class's `code`; any other ValueError (a malformed request) is
    INVALID_ARGUMENT."""
    return exc.code if isinstance(exc, Refused) else grpc.StatusCode.INVALID_ARGUMENT


def abort(context: grpc.ServicerContext, exc: BaseException, prefix: str = "") -> None:
    """Ends the call with `exc`'s status, its message (after `prefix`) and its details as trailing metadata."""
    details = getattr(exc, "details", {})
    if details:
        context.set_trailing_metadata(tuple((DETAIL_PREFIX + k, v) for k, v in details.items()))
    context.abort(status_of(exc), prefix + str(exc))


def details_of(err: grpc.RpcError) -> dict[str, str]:
    """The structured details a service sent with an error (name -> value), read from its trailing metadata."""
    try:
        metadata = err.trailing_metadata() or ()
    except (AttributeError, TypeError, ValueError):
        return {}
    return {k[len(DETAIL_PREFIX):]: v for k, v in metadata if isinstance(v, str) and k.startswith(DETAIL_PREFIX)}
