"""The raw article as the producer publishes it to the raw topic."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from schemas.base import Record, TraceStep


class Article(Record):
    """A wire article. Every character offset in any record indexes into ``body`` or ``headline``."""

    SCHEMA_NAME = "article"
    SCHEMA_VERSION = "1.1"  # 1.1: status, supersedes

    id: str = Field(min_length=1, max_length=256, description="Source's own id, else SHA-256 of the content.")
    story_id: str = Field(min_length=1, max_length=256, description="Shared by every version of one story.")
    version: int = Field(default=1, ge=1, description="Version of the story; re-issues with edits count up.")
    source: str = Field(min_length=1, description="Where the article came from (file, feed, endpoint).")
    agency: str | None = Field(default=None, description="Wire agency from the dateline, e.g. 'IANS'.")
    dateline: str | None = Field(default=None, description="Dateline city, e.g. 'New Delhi'.")
    published: date | None = Field(default=None, description="Publication date.")
    headline: str | None = None
    body: str = Field(description="Text after the date marker, stripped, dateline included.")
    language: str | None = Field(default=None, description="BCP 47 language tag when known.")
    status: Literal["original", "update", "correction", "withdrawal"] = Field(
        default="original",
        description="'update': a re-issue with edits; 'correction'/'withdrawal': the source marked it so.",
    )
    supersedes: str | None = Field(default=None, description="Id of the version this one replaces.")
    trace: list[TraceStep] = Field(default_factory=list, description="Stages this record passed, in order.")

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("body is empty")
        return value
