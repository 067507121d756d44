"""The small event storage publishes once an article is in the database.

At-least-once: a storage batch that is redelivered publishes its events again, so a consumer
of the ``stored`` topic dedupes by ``id`` (and ``updated_at`` when it cares about updates).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.base import Record, TraceStep


class StoredEvent(Record):
    """Article ``id`` (version ``version`` of story ``story_id``) is stored and queryable."""

    SCHEMA_NAME = "stored"
    SCHEMA_VERSION = "1.0"

    id: str = Field(min_length=1, max_length=256)
    story_id: str = Field(min_length=1, max_length=256)
    version: int = Field(ge=1)
    latest: bool = Field(description="Whether this is now the story's latest stored version.")
    headline: str | None = None
    first_stored_at: datetime = Field(description="When this article id was first stored.")
    stored_at: datetime = Field(description="When this write happened (an update or a redelivery is later).")
    trace: list[TraceStep] = Field(default_factory=list, description="Stages the article passed, storage last.")
