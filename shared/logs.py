"""The services' logs: one line per event, as text (time service level message key=value ...) or JSON."""

from __future__ import annotations

import logging

from shared.endpoints import env


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    """`text`: time service level message key=value...; `json`: one JSON object per line.

    Fields passed as ``extra={...}`` (transmission_id, task, ...) are kept as fields.
    """

    def __init__(self, service: str, fmt: str) -> None:
        super().__init__()
        self.service, self.fmt = service, fmt

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        msg = record.getMessage()
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        if self.fmt == "json":
            import json

            return json.dumps({"ts": ts, "service": self.service, "level": record.levelname, "msg": msg, **fields},
                              default=str)
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if k != "error")
        text = f"{ts} {self.service} {record.levelname} {msg}" + (f" {extra}" if extra else "")
        return text + (f"\n{fields['error']}" if "error" in fields else "")


def setup_logging(level: str, service: str, fmt: str | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter(service, fmt or env("LOG_FORMAT", "text")))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
