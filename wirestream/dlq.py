"""The dead-letter topic, for operators: list what failed and why, and send chosen records back.

``wirestream dlq list`` reads every dead letter (``partition:offset`` is its handle);
``wirestream dlq replay`` re-publishes the original bytes and key of the chosen ones to the topic
they came from, once whatever made them fail has been fixed. A replayed record carries the header
``wirestream.replayed-from`` naming its dead letter.

>>> parse_position("2:17")
(2, 17)
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas import DeadLetter
from wirestream.clients import read_topic, send_all
from wirestream.config import Settings


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"


def parse_position(text: str) -> tuple[int, int]:
    """``PARTITION:OFFSET`` of a dead letter, as ``dlq list`` prints it."""
    partition, _, offset = text.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise ValueError(f"{text!r} is not PARTITION:OFFSET")
    return int(partition), int(offset)


def read_letters(settings: Settings, timeout: float = 10.0) -> list[Letter]:
    """Every dead letter on the topic, oldest first per partition."""
    records = read_topic(settings, settings.topic_dead_letter, timeout=timeout)
    return [Letter(r.partition, r.offset, DeadLetter.model_validate_json(r.value)) for r in records]


def choose(
    letters: Iterable[Letter], *, positions: Sequence[str] = (), reason: str | None = None, stage: str | None = None
) -> list[Letter]:
    """The letters at ``positions`` (all when none given) that match ``reason`` and ``stage``."""
    wanted = {parse_position(p) for p in positions}
    return [
        letter for letter in letters
        if (not wanted or (letter.partition, letter.offset) in wanted)
        and (reason is None or letter.letter.reason == reason)
        and (stage is None or letter.letter.stage == stage)
    ]


def replay(settings: Settings, letters: Sequence[Letter], to_topic: str | None = None) -> int:
    """Re-publish each letter's original key and bytes to its source topic (or ``to_topic``)."""
    return send_all(settings, [
        {"topic": to_topic or item.letter.source_topic,
         "key": base64.b64decode(item.letter.key_b64) if item.letter.key_b64 else None,
         "value": item.letter.payload(),
         "headers": [("wirestream.replayed-from", f"{settings.topic_dead_letter}@{item.position}".encode())]}
        for item in letters
    ])


def table(letters: Sequence[Letter]) -> str:
    """One line per letter: position, stage, reason, source, article id, error."""
    lines = [f"{'position':<10} {'stage':<10} {'reason':<27} {'source':<28} {'article':<14} error"]
    for item in letters:
        d = item.letter
        source = f"{d.source_topic}[{d.partition}]@{d.offset}"
        error = d.error if len(d.error) <= 70 else d.error[:69] + "…"
        lines.append(f"{item.position:<10} {d.stage:<10} {d.reason:<27} {source:<28} {(d.article_id or '-')[:14]:<14} "
                     f"{error}")
    return "\n".join(lines)
