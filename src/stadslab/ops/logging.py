"""Structured logs: one JSON object per line, with the request id of the request being served.

Uses the standard library (no structlog): every library already logs through it,
and the governance masking (``core.security.install_log_masking``) rewrites each
record when it is created, so e-mail addresses, tokens and passwords are gone
before this formatter sees the message. Extra fields are masked here as well.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from stadslab.core.security import current_request_id, install_log_masking, mask

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "_stadslab_masked", "color_message"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = mask(record.exc_text or self.formatException(record.exc_info))
        return json.dumps(entry, default=lambda v: mask(str(v)), ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")


_HANDLER_NAME = "stadslab-ops"


def configure_logging(log_format: str = "console", level: str = "INFO", stream=None) -> logging.Handler:
    """Route the root logger and uvicorn's loggers through one handler (idempotent)."""
    install_log_masking()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == _HANDLER_NAME:
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    return handler
