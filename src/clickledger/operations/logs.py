"""Process logging for ``clickledger serve`` and ``worker``: JSON lines or plain text on stderr.

``json`` writes one object per line: ``time`` (UTC, ISO 8601, milliseconds),
``level``, ``logger``, ``message``, every ``extra=`` field the call passed,
and ``exc_info`` / ``stack_info`` as text when present.  Values JSON cannot
encode are written as their ``str``.  uvicorn's own loggers go through the
same handler (uvicorn is started with ``log_config=None``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message",
                                                          "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(log_format: LogFormat, level: str) -> None:
    """Send every logger's records to stderr in ``log_format`` at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic explains its context at INFO on every start; only its problems are news.
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)
