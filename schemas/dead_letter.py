"""What the dead-letter topic holds: the original bytes, where they came from, and why they failed."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Record

Reason = Literal[
    "undecodable",
    "invalid_json",
    "schema_invalid",
    "unsupported_schema_version",
    "invalid_content",
    "processing_error",
    "id_conflict",
]


class DeadLetter(Record):
    """A record a stage could not handle; ``wirestream dlq replay`` can send it back."""

    SCHEMA_NAME = "dead-letter"
    SCHEMA_VERSION = "1.1"  # 1.1: reason "id_conflict"

    stage: str = Field(description="Stage that gave up on the record.")
    reason: Reason
    error: str = Field(description="Human-readable explanation.")
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key_b64: str | None = Field(default=None, description="Original key, base64.")
    payload_b64: str = Field(description="Original value bytes, base64.")
    article_id: str | None = Field(default=None, description="The article's id when it could be read.")
    instance: str
    failed_at: datetime

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
