"""Read wire articles from text files, JSON Lines and stdin into :class:`schemas.Article`.

The wire format is a ``date YYYY-MM-DD`` marker, then (on the same line in the seed)
the body, which opens with the dateline ``City, Mon DD (AGENCY)``:

>>> article = parse_wire_text(" date 2025-02-26 New Delhi, Feb 26 (IANS) Reuven Azar said.", source="x")
>>> article.published.isoformat(), article.dateline, article.agency, article.body[:9]
('2025-02-26', 'New Delhi', 'IANS', 'New Delhi')

Files without a date marker or a dateline are accepted; those fields stay empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import Article
from wirestream.records import describe_validation_error

_DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})(?=\s|$)", re.IGNORECASE)
_DATELINE = re.compile(
    r"^(?P<city>[A-Z][^\n,()]{0,60}?),\s+"
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?P<day>\d{1,2})\s+"
    r"\((?P<agency>[A-Za-z][A-Za-z0-9 .&-]{0,30})\)"
)


class InputError(ValueError):
    """Malformed input, located by file and line so the user can find it."""

    def __init__(self, where: str, line: int | None, message: str) -> None:
        self.where, self.line = where, line
        location = f"{where}:{line}" if line is not None else where
        super().__init__(f"{location}: {message}")


@dataclass(frozen=True)
class Dateline:
    city: str
    agency: str


def dateline_mentions(body: str) -> tuple[int, list[tuple[int, int, str]]] | None:
    """Where the body's dateline ends, and its city (LOC) and agency (ORG) as (start, end, type).

    The dateline is the wire format's own structure, so its two names need no model: the NER stage
    takes them from here (the model had typed "Kyodo" a place and a dateline's "Mar" a person).

    >>> dateline_mentions("Tokyo, Jan 2 (Kyodo) A Japan Airlines jet ...")
    (20, [(0, 5, 'LOC'), (14, 19, 'ORG')])
    >>> dateline_mentions("No dateline here.") is None
    True
    """
    match = _DATELINE.match(body)
    if match is None:
        return None
    city_end = match.start("city") + len(match.group("city").rstrip())
    return match.end(), [(match.start("city"), city_end, "LOC"), (match.start("agency"), match.end("agency"), "ORG")]


def parse_dateline(body: str) -> Dateline | None:
    """The dateline at the start of a body, if it has one.

    >>> parse_dateline("Brussels, Mar 3 (Reuters) The EU said ...")
    Dateline(city='Brussels', agency='Reuters')
    >>> parse_dateline("No dateline here.") is None
    True
    """
    match = _DATELINE.match(body)
    if match is None:
        return None
    return Dateline(city=match.group("city").strip(), agency=match.group("agency").strip())


def normalise(text: str) -> str:
    """NFC and single spaces, so re-encoded or re-wrapped copies of an article hash alike."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_id(agency: str | None, published: date | None, body: str) -> str:
    """SHA-256 of normalised (agency, date, body): the same article sent twice has the same id.

    >>> content_id("IANS", None, "a  b") == content_id("ians", None, "a b")
    True
    """
    material = "\n".join([(agency or "").strip().upper(), published.isoformat() if published else "", normalise(body)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def parse_wire_text(text: str, source: str, headline: str | None = None) -> Article:
    """One article from wire text: date marker (optional), then the body with its dateline."""
    published: date | None = None
    rest = text
    marker = _DATE_MARKER.match(text)
    if marker is not None:
        try:
            published = date.fromisoformat(marker.group(1))
        except ValueError as error:
            raise InputError(source, 1, f"bad date marker {marker.group(1)!r}: {error}") from None
        rest = text[marker.end() :]
    body = rest.strip()
    if not body:
        raise InputError(source, None, "no article body")
    dateline = parse_dateline(body)
    agency = dateline.agency if dateline else None
    article_id = content_id(agency, published, body)
    return Article(
        id=article_id,
        story_id=article_id,
        source=source,
        agency=agency,
        dateline=dateline.city if dateline else None,
        published=published,
        headline=headline,
        body=body,
    )


def article_from_json(data: Any, source: str) -> Article:
    """One article from a JSON object: ``body`` is required, the rest is filled in as for wire text.

    A ``body`` that still starts with a ``date`` marker is parsed like a wire file.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("body"), str):
        raise ValueError("missing string field 'body'")
    parsed = parse_wire_text(data["body"], source=data.get("source") or source, headline=data.get("headline"))
    fields = parsed.model_dump()
    fields.update({key: value for key, value in data.items() if value is not None and key != "body"})
    if "id" in data and "story_id" not in data:
        fields["story_id"] = data["id"]
    if "id" not in data and ("agency" in data or "published" in data):
        published = date.fromisoformat(str(data["published"])) if data.get("published") else parsed.published
        fields["id"] = fields["story_id"] = content_id(fields.get("agency"), published, parsed.body)
    return Article.model_validate(fields)


def read_jsonl(lines: Iterable[str], where: str) -> Iterator[Article]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield article_from_json(json.loads(line), source=where)
        except json.JSONDecodeError as error:
            raise InputError(where, number, f"not valid JSON: {error.msg} at column {error.colno}") from None
        except ValidationError as error:
            raise InputError(where, number, describe_validation_error(error)) from None
        except (InputError, ValueError) as error:
            raise InputError(where, number, str(error)) from None


def read_text(text: str, where: str, json_lines: bool | None = None) -> Iterator[Article]:
    """Articles in ``text``: JSON Lines when it starts with ``{`` (or when told), else one wire article."""
    if json_lines is None:
        json_lines = text.lstrip().startswith("{")
    if json_lines:
        yield from read_jsonl(text.splitlines(), where)
    else:
        yield parse_wire_text(text, source=where)


def read_path(path: Path) -> Iterator[Article]:
    """Articles in a file (``.jsonl``/``.ndjson`` as JSON Lines) or, recursively, a directory."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            yield from read_path(child)
        return
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), None, f"cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(str(path), line, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    json_lines = True if path.suffix in {".jsonl", ".ndjson"} else None
    yield from read_text(text, str(path), json_lines=json_lines)
