"""Log lines without customer data or secrets: what every Patron process logs through.

Patron's own lines never quote request data: the access line names the route template and
the request id, never the raw path (a path may hold an e-mail address as a source_id), and
no line carries a credential. What is left is exceptions: their messages quote values (a
database error's DETAIL quotes the row it refused, `Key (source_id)=(bob@example.com)`), so
an exception is logged with its type and stack frames only; the line's request id leads to
the request.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from types import TracebackType

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class Formatter(logging.Formatter):
    """Formats exceptions, and the exceptions they came from, without their messages."""

    def formatException(self, ei: ExcInfo | tuple[None, None, None]) -> str:
        exc = ei[1]
        parts: list[str] = []
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if parts:
                parts.append("which came from:\n")
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
            kind = type(exc)
            parts.append(f"{kind.__module__}.{kind.__qualname__} (message withheld)\n")
            exc = exc.__cause__ or exc.__context__
        return "".join(parts).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have cached the full text of the exception on the record.
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached


# Fields a Patron line may carry beside its message (`extra=`), copied into its JSON object.
FIELDS = ("method", "route", "status", "duration_ms", "request_id", "failed")


class JSONFormatter(Formatter):
    """One JSON object a line, for log shippers: time (UTC, ISO 8601), level, logger, message,
    the `FIELDS` the line carries, and the exception's type and frames (never its message)."""

    def __init__(self) -> None:
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str | int, *, log_format: str = "text") -> None:
    """Send every logger's lines, uvicorn's included, to stderr: through `Formatter`, or
    `JSONFormatter` when `log_format` is "json" (PATRON_LOG_FORMAT)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else Formatter(LINE_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
