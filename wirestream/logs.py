"""Structured logs: one JSON object per line, with the article id where a message is about one.

>>> import json, logging
>>> record = logging.LogRecord("wirestream.runtime", logging.WARNING, "", 0, "dead-lettered %s", ("x",), None)
>>> record.article_id = "a1"
>>> entry = json.loads(JsonFormatter().format(record))
>>> entry["message"], entry["article_id"], entry["level"]
('dead-lettered x', 'a1', 'WARNING')
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

EXTRA_FIELDS = ("article_id", "stage", "instance", "topic", "partition", "offset", "reason")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extras}``; extras are the fields in :data:`EXTRA_FIELDS`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in EXTRA_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Root logging to stderr, as text or JSON; kafka-python's chatter kept to warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(logging.WARNING)
