"""Account for every published article: stored, dead-lettered, still in flight, or lost.

The pipeline promises that no article is lost: each one is stored or dead-lettered with its
reason. Lags and counters cannot show that a promise was kept (a chaos run once ended with every
lag at 0 and 8 of 300 articles gone), so :func:`audit` checks it the direct way: every record on
the raw topic (``read_committed``), by article id, against the database and the dead-letter topic;
the ones found in neither are placed by the last topic they reached. While the pipeline is idle
(no stage has a record left to read) an article in neither is lost; while it is busy it may be in flight.

It reads the raw, NER, enriched and dead-letter topics from the beginning: a tool for an operator
or a test, costing a full read of each; it covers what the topics' retention still holds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from wirestream.clients import make_reader, read_topic, send_all
from wirestream.config import Settings


@dataclass
class Audit:
    """Where each article published on the raw topic ended up (a record without an id counts as one,
    named ``topic[partition]@offset``)."""

    raw_records: int = 0
    published: int = 0  # distinct article ids on the raw topic, plus records without one
    stored: int = 0
    dead_lettered: int = 0  # not stored, with a dead letter (by article id, or by raw position)
    unaccounted: dict[str, str] = field(default_factory=dict)  # article -> last topic it reached
    originals: dict[str, Any] = field(default_factory=dict, repr=False)  # article -> its first raw record
    idle: bool = False  # no stage had a record left to read when the audit began

    @property
    def lost(self) -> int:
        """Articles neither stored nor dead-lettered while the pipeline was idle."""
        return len(self.unaccounted) if self.idle else 0

    def report(self) -> str:
        lines = [f"raw topic: {self.raw_records} records, {self.published} articles",
                 f"stored: {self.stored}; dead-lettered: {self.dead_lettered}"]
        if not self.unaccounted:
            lines.append("every article is accounted for")
            return "\n".join(lines)
        where: dict[str, int] = {}
        for topic in self.unaccounted.values():
            where[topic] = where.get(topic, 0) + 1
        lines.append(f"neither stored nor dead-lettered: {len(self.unaccounted)} (last seen on "
                     + ", ".join(f"{topic}: {n}" for topic, n in sorted(where.items())) + ")")
        lines.extend(f"  {name}  last on {topic}" for name, topic in sorted(self.unaccounted.items())[:20])
        lines.append(f"LOST: {self.lost} (no stage has a record left to read)" if self.idle
                     else "a stage has records left to read: these may be in flight; audit again later")
        return "\n".join(lines)


def article_id(value: bytes | None) -> str | None:
    """The ``id`` of a record's JSON value, or None when it has none.

    >>> article_id(b'{"id": "a1", "body": "x"}'), article_id(b"not json"), article_id(None)
    ('a1', None, None)
    """
    identifier = _object(value).get("id")
    return identifier if isinstance(identifier, str) and identifier else None


def _object(value: bytes | None) -> dict[str, Any]:
    """A record's JSON object value; ``{}`` for anything else."""
    try:
        found = json.loads(value) if value is not None else None
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def audit(settings: Settings, store: Any, *, idle: bool, timeout: float = 30.0) -> Audit:
    """Account for every article on ``settings.topic_raw``; ``idle``: no stage has a record left to read."""
    raw = read_topic(settings, settings.topic_raw, timeout=timeout)
    positions: dict[str, list[tuple[int, int]]] = {}  # article id (or raw position) -> its raw records
    first: dict[str, Any] = {}
    for record in raw:
        name = article_id(record.value) or f"{record.topic}[{record.partition}]@{record.offset}"
        positions.setdefault(name, []).append((record.partition, record.offset))
        first.setdefault(name, record)
    stored = store.stored_ids(list(positions))
    letters = [_object(r.value) for r in read_topic(settings, settings.topic_dead_letter, timeout=timeout)]
    lettered_ids = {letter.get("article_id") for letter in letters}
    lettered_raw = {(letter.get("partition"), letter.get("offset")) for letter in letters
                    if letter.get("source_topic") == settings.topic_raw}
    lettered = {name for name, places in positions.items()
                if name in lettered_ids or any(place in lettered_raw for place in places)}
    missing = dict.fromkeys((name for name in positions if name not in stored and name not in lettered),
                            settings.topic_raw)
    for topic in (settings.topic_ner, settings.topic_enriched) if missing else ():
        for record in read_topic(settings, topic, timeout=timeout):
            if (name := article_id(record.value)) in missing:
                missing[name] = topic
    return Audit(raw_records=len(raw), published=len(positions), stored=len(stored),
                 dead_lettered=len(lettered - stored), unaccounted=missing, idle=idle,
                 originals={name: first[name] for name in missing})


def replay_lost(settings: Settings, result: Audit) -> int:
    """Publish each lost article's raw record again (same key and bytes), so the pipeline redoes it;
    storage's upsert by id makes a second arrival harmless. Returns how many were sent.

    The remedy for a loss no stage can see: a chaos run on a995ae6 showed a broker, shutting down,
    acknowledge a transaction's commit marker it never wrote; the transaction's input offsets
    committed and its output was aborted later with the next transaction.
    """
    if not result.lost:
        return 0
    return send_all(settings, [
        {"topic": settings.topic_raw, "key": record.key, "value": record.value,
         "headers": [("wirestream.replayed-from", f"{record.topic}@{record.partition}:{record.offset}".encode())]}
        for record in (result.originals[name] for name in result.unaccounted)
    ])


def audit_pipeline(settings: Settings, store: Any) -> Audit:
    """:func:`audit`, idle when no stage has a record left to read past its committed offsets."""
    from services import input_topics
    from wirestream.status import collect

    statuses = collect(settings, input_topics(settings), interval_s=0)
    idle = all(unread(settings, status.topic, status.committed, status.lag) == 0 for status in statuses)
    return audit(settings, store, idle=idle)


def unread(settings: Settings, topic: str, committed: dict[int, int], lag: dict[int, int]) -> int:
    """Records a ``read_committed`` reader gets past ``committed`` on the lagging partitions.

    Lag counts offsets, and a transaction's commit or abort marker takes one: a stage whose last
    batch came from a transactional topic keeps a lag of 1 for good on that partition (its offsets
    were committed before the marker was written). Reading what is there tells the two apart.
    """
    from kafka import TopicPartition

    lagging = [TopicPartition(topic, p) for p, n in lag.items() if n > 0]
    if not lagging:
        return 0
    consumer = make_reader(settings, "read_committed")
    try:
        consumer.assign(lagging)
        for tp in lagging:
            consumer.seek(tp, committed.get(tp.partition, 0))
        ends = consumer.end_offsets(lagging)

        def caught_up() -> bool:
            return all(consumer.position(tp) >= end for tp, end in ends.items())

        found = 0
        deadline = time.monotonic() + 10
        while not found and not caught_up():
            if time.monotonic() > deadline:  # cannot tell: count the lag as unread
                return sum(lag.values())
            found += sum(len(batch) for batch in consumer.poll(timeout_ms=200).values())
        return found
    finally:
        consumer.close()
