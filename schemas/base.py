"""What every wirestream record shares: a schema version and a trace of the stages it passed.

Versions are ``MAJOR.MINOR``. A reader accepts any minor version of the major it was
built for (a newer minor only adds optional fields, which an older reader ignores) and
refuses any other major with a clear error. A record is written under the version of the
model that writes it: what it read keeps its version in memory, and goes out stamped with the
writer's, which is what the written fields follow.

>>> from schemas import Article
>>> read = Article.model_validate({"schema_version": "1.7", "id": "a", "story_id": "a", "source": "s",
...                                "body": "x", "field_from_the_future": 1})
>>> read.schema_version, read.model_dump()["schema_version"] == Article.SCHEMA_VERSION
('1.7', True)
>>> Article(id="a", story_id="a", source="s", body="x").schema_version == Article.SCHEMA_VERSION
True
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def major_of(version: object) -> int | None:
    """The major number of a ``MAJOR.MINOR`` version string, or None when it is not one.

    >>> major_of("1.12"), major_of("one")
    (1, None)
    """
    match = _VERSION.match(version) if isinstance(version, str) else None
    return int(match.group(1)) if match else None


class UnsupportedSchemaVersion(ValueError):
    """The record's major schema version is not the one this reader understands."""


class TraceStep(BaseModel):
    """One stage a record passed: who touched it, with what, and how long it took."""

    model_config = ConfigDict(extra="ignore")

    service: str = Field(description="Stage name, e.g. 'produce', 'ner', 'storage'.")
    version: str = Field(description="Version of the service's code.")
    model: str | None = Field(default=None, description="Model id or path the stage ran, if any.")
    instance: str = Field(description="Instance id of the process that did the work.")
    started_at: datetime
    finished_at: datetime
    duration_ms: float = Field(ge=0, description="Wall time of the batch this record was processed in.")
    batch_size: int = Field(default=1, ge=1)


class Record(BaseModel):
    """Base of every record on a wirestream topic."""

    SCHEMA_NAME: ClassVar[str] = "record"
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    model_config = ConfigDict(extra="ignore")

    schema_version: str = Field(default="1.0", description="MAJOR.MINOR of the contract this record follows.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A new record of this model is of this model's version (and its JSON Schema says so)."""
        super().__pydantic_init_subclass__(**kwargs)
        field = copy.copy(cls.model_fields["schema_version"])
        field.default = cls.SCHEMA_VERSION
        cls.model_fields["schema_version"] = field
        cls.model_rebuild(force=True)

    @field_serializer("schema_version")
    def _written_as(self, _read_as: str) -> str:
        return self.SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _same_major(cls, value: str) -> str:
        match = _VERSION.match(value)
        if match is None:
            raise ValueError(f"schema_version must look like MAJOR.MINOR, got {value!r}")
        ours = cls.SCHEMA_VERSION.split(".")[0]
        if match.group(1) != ours:
            raise UnsupportedSchemaVersion(
                f"{cls.SCHEMA_NAME} schema version {value} is not supported: this reader understands {ours}.x"
            )
        return value

    @classmethod
    def schema_major(cls) -> int:
        return int(cls.SCHEMA_VERSION.split(".")[0])
