"""Turn Kafka record bytes into validated records, or into a dead letter that says why not."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas import Article, DeadLetter
from schemas.base import major_of
from schemas.dead_letter import Reason


@dataclass(frozen=True)
class Rejected(Exception):
    """Why a record cannot be read; becomes a :class:`DeadLetter`."""

    reason: Reason
    error: str
    article_id: str | None = None
    unexpected: bool = False
    """The stage raised something other than a :class:`~wirestream.service.RecordError` on it: maybe its own fault."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, field path first: short enough for a log line, precise enough to fix."""
    parts = []
    for problem in error.errors()[:10]:
        where = ".".join(str(part) for part in problem["loc"]) or "record"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def decode(value: bytes | None, model: type[Article], max_body_chars: int) -> Article:
    """Bytes to a validated record; raises :class:`Rejected` with the reason.

    >>> decode(b'{"id": "a", "story_id": "a", "source": "s", "body": "Hi"}', Article, 100).body
    'Hi'
    >>> try:
    ...     decode(b"\\xff", Article, 100)
    ... except Rejected as rejected:
    ...     print(rejected.reason, "-", rejected.error)
    undecodable - not UTF-8: invalid start byte at byte 0
    """
    if value is None:
        raise Rejected("undecodable", "record has no value (tombstone)")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected("undecodable", f"not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise Rejected("invalid_json", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(data, dict):
        raise Rejected("schema_invalid", f"expected a JSON object, got {type(data).__name__}")
    article_id = data.get("id") if isinstance(data.get("id"), str) else None
    version = data.get("schema_version")
    major = major_of(version)
    if major is not None and major != model.schema_major():
        raise Rejected(
            "unsupported_schema_version",
            f"schema version {version} is not supported: this stage reads {model.schema_major()}.x",
            article_id,
        )
    try:
        record = model.model_validate(data)
    except ValidationError as error:
        raise Rejected("schema_invalid", describe_validation_error(error), article_id) from None
    if len(record.body) > max_body_chars:
        raise Rejected(
            "invalid_content",
            f"body has {len(record.body)} characters, over the limit of {max_body_chars}",
            article_id,
        )
    return record


def dead_letter(
    *,
    stage: str,
    instance: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    rejected: Rejected,
) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        reason=rejected.reason,
        error=rejected.error,
        source_topic=topic,
        partition=partition,
        offset=offset,
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        payload_b64=base64.b64encode(value or b"").decode(),
        article_id=rejected.article_id,
        instance=instance,
        failed_at=datetime.now(UTC),
    )
